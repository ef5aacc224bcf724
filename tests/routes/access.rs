//! Uploads, tokens on every route, health and readiness.

use super::*;

async fn uploads_round_trip_with_safe_names(db: TestDb) {
    let mut config = fast_config(&db);
    config.max_upload_bytes = 1024;
    let server = TestServer::start_with(config).await;
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        let form = reqwest::multipart::Form::new().part("file", part);
        server
            .http
            .post(server.url("/api/uploads"))
            .multipart(form)
            .send()
    };
    let r = upload("../../evil/data.zip", b"PK-bytes".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(
        stored["filename"], "data.zip",
        "only the last path part is kept"
    );
    assert_eq!(stored["size"], 8);
    let url = stored["fileUrl"].as_str().unwrap();
    let body = server.http.get(server.url(url)).send().await.unwrap();
    assert_eq!(body.status(), StatusCode::OK);
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"PK-bytes");

    let wrong_name = url.replace("data.zip", "other.zip");
    assert_eq!(server.get(&wrong_name).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server.get("/uploads/not-an-id/x").await.0,
        StatusCode::BAD_REQUEST
    );
    let dots = upload("..", b"x".to_vec()).await.unwrap();
    assert_eq!(dots.status(), StatusCode::BAD_REQUEST);
    let big = upload("big.bin", vec![0; 4096]).await.unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let no_file = server
        .http
        .post(server.url("/api/uploads"))
        .multipart(reqwest::multipart::Form::new().text("note", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_file.status(), StatusCode::BAD_REQUEST);
    // A body that is not multipart at all (no boundary) gets the JSON error shape too.
    let not_multipart = server
        .http
        .post(server.url("/api/uploads"))
        .header("content-type", "multipart/form-data")
        .body("junk")
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), StatusCode::BAD_REQUEST);
    let error: Value = not_multipart.json().await.expect("a JSON error body");
    assert_eq!(error["error"]["code"], "invalid_input", "{error}");
    server.stop().await;
}

const CLIENT_TOKEN: &str = "client-token-0123456789";
const JOIN_TOKEN: &str = "join-token-0123456789";

async fn tokens_guard_every_route(db: TestDb) {
    let mut config = fast_config(&db);
    config.api_token = Some(CLIENT_TOKEN.into());
    config.worker_token = Some(JOIN_TOKEN.into());
    let server = TestServer::start_with(config).await;
    client_routes_want_the_client_token(&server).await;
    let tokens = worker_tokens_act_for_their_own_worker(&server).await;
    uploads_want_a_token(&server, &tokens[0]).await;
    server.stop().await;
}

/// The client routes answer only the client token; health needs none.
async fn client_routes_want_the_client_token(server: &TestServer) {
    let http = &server.http;
    let no_token = http.get(server.url("/api/jobs/list")).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let wrong = http
        .get(server.url("/api/jobs/list"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = http
        .get(server.url("/api/jobs/list"))
        .bearer_auth(CLIENT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// Registering takes the join token and hands out a token per worker, which acts for that
/// worker only; returns the tokens of w1 and w2.
async fn worker_tokens_act_for_their_own_worker(server: &TestServer) -> Vec<String> {
    let http = &server.http;
    let register = json!({"workerId": "w1", "hostname": "h", "cpuCores": 1, "ramTotalMb": 512, "maxParallelJobs": 1});
    let refused = http
        .post(server.url("/api/workers/register"))
        .json(&register)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let mut tokens = Vec::new();
    for id in ["w1", "w2"] {
        let mut body = register.clone();
        body["workerId"] = json!(id);
        let r = http
            .post(server.url("/api/workers/register"))
            .bearer_auth(JOIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let answer: Value = r.json().await.unwrap();
        tokens.push(answer["token"].as_str().unwrap().to_string());
    }
    let beat = |id: &str, token: &str| {
        http.post(server.url("/api/workers/heartbeat"))
            .bearer_auth(token)
            .json(&json!({"workerId": id}))
            .send()
    };
    assert_eq!(
        beat("w1", &tokens[0]).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        beat("w1", &tokens[1]).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "w2's token cannot act for w1"
    );
    assert_eq!(
        beat("w1", JOIN_TOKEN).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let client_as_worker = http
        .post(server.url("/api/jobs/get-job"))
        .bearer_auth(CLIENT_TOKEN)
        .json(&json!({"workerId": "w1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(client_as_worker.status(), StatusCode::UNAUTHORIZED);
    tokens
}

/// An upload made with the client token downloads only with a token: `worker_token` will do.
async fn uploads_want_a_token(server: &TestServer, worker_token: &str) {
    let http = &server.http;
    let part = reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("in.txt");
    let up: Value = http
        .post(server.url("/api/uploads"))
        .bearer_auth(CLIENT_TOKEN)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = server.url(up["fileUrl"].as_str().unwrap());
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth(worker_token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "workers download inputs"
    );
}

/// A registered worker's id is re-registered only with that worker's token (which it keeps)
/// or the API token (which issues a new one, the old one stops working): the join token alone
/// is refused with 403 and changes nothing. A new id still takes the join token.
async fn the_join_token_cannot_take_over_a_worker(db: TestDb) {
    let mut config = fast_config(&db);
    config.api_token = Some(CLIENT_TOKEN.into());
    config.worker_token = Some(JOIN_TOKEN.into());
    // Online throughout: an OFFLINE worker may be rejoined (see the next test).
    config.heartbeat_timeout = std::time::Duration::from_secs(30);
    let server = TestServer::start_with(config).await;
    let s = &server;
    let first = token_of(&register_as(s, "w1", JOIN_TOKEN, "h1").await);
    let other = token_of(&register_as(s, "w2", JOIN_TOKEN, "h2").await);

    let taken = register_as(s, "w1", JOIN_TOKEN, "thief").await;
    assert_error(&taken, StatusCode::FORBIDDEN, "forbidden", None);
    let as_w2 = register_as(s, "w1", &other, "thief").await;
    assert_error(&as_w2, StatusCode::FORBIDDEN, "forbidden", None);
    let wrong = register_as(s, "w1", "nope", "thief").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert_eq!(
        beat_w1(s, &first).await,
        StatusCode::OK,
        "w1's token still works"
    );
    assert_eq!(
        hostname_of_w1(s).await,
        "h1",
        "the refusals changed nothing"
    );

    // Registering again with its own token keeps that token: an agent whose answer was lost
    // registers again with the token it holds, and that works as often as it takes.
    let own = token_of(&register_as(s, "w1", &first, "h1-again").await);
    assert_eq!(own, first, "the same token");
    let retried = token_of(&register_as(s, "w1", &first, "h1-again").await);
    assert_eq!(retried, first, "a retry after a lost answer");
    assert_eq!(beat_w1(s, &own).await, StatusCode::OK);
    assert_eq!(hostname_of_w1(s).await, "h1-again");

    let by_api = token_of(&register_as(s, "w1", CLIENT_TOKEN, "h1-by-api").await);
    assert_eq!(beat_w1(s, &own).await, StatusCode::UNAUTHORIZED);
    assert_eq!(beat_w1(s, &by_api).await, StatusCode::OK);
    assert_eq!(hostname_of_w1(s).await, "h1-by-api");
    server.stop().await;
}

/// A worker that went OFFLINE holds nothing, and its id may be rejoined with the join token
/// (an agent that lost its state folder comes back once its old life has timed out).
async fn an_offline_worker_may_be_rejoined_with_the_join_token(db: TestDb) {
    let mut config = fast_config(&db);
    config.api_token = Some(CLIENT_TOKEN.into());
    config.worker_token = Some(JOIN_TOKEN.into());
    let server = TestServer::start_with(config).await;
    let s = &server;
    token_of(&register_as(s, "w1", JOIN_TOKEN, "h1").await);
    crate::common::eventually(
        "w1 to go offline",
        std::time::Duration::from_secs(10),
        || async {
            let r = s
                .http
                .get(s.url("/api/workers/list"))
                .bearer_auth(CLIENT_TOKEN)
                .send()
                .await
                .ok()?;
            let list: Value = r.json().await.ok()?;
            (list["workers"][0]["status"] == "OFFLINE").then_some(())
        },
    )
    .await;
    let back = token_of(&register_as(s, "w1", JOIN_TOKEN, "h1-new-life").await);
    assert_eq!(beat_w1(s, &back).await, StatusCode::OK);
    assert_eq!(hostname_of_w1(s).await, "h1-new-life");
    server.stop().await;
}

/// Registers `id` on `hostname` with `token` as the bearer.
async fn register_as(
    server: &TestServer,
    id: &str,
    token: &str,
    hostname: &str,
) -> (StatusCode, Value) {
    let body = json!({"workerId": id, "hostname": hostname, "cpuCores": 1, "ramTotalMb": 512,
        "maxParallelJobs": 1});
    let r = server
        .http
        .post(server.url("/api/workers/register"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// The token of a successful registration.
fn token_of(answer: &(StatusCode, Value)) -> String {
    assert_eq!(answer.0, StatusCode::OK, "answer: {}", answer.1);
    answer.1["token"].as_str().unwrap().to_string()
}

/// The status of a heartbeat for w1 with `token`.
async fn beat_w1(server: &TestServer, token: &str) -> StatusCode {
    server
        .http
        .post(server.url("/api/workers/heartbeat"))
        .bearer_auth(token)
        .json(&json!({"workerId": "w1"}))
        .send()
        .await
        .unwrap()
        .status()
}

/// The hostname the server has for w1.
async fn hostname_of_w1(server: &TestServer) -> String {
    let workers: Value = server
        .http
        .get(server.url("/api/workers/list"))
        .bearer_auth(CLIENT_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = workers["workers"].as_array().unwrap();
    let w1 = all.iter().find(|w| w["id"] == "w1").unwrap();
    w1["hostname"].as_str().unwrap().to_string()
}

async fn health_and_readiness(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (code, health) = server.get("/healthz").await;
    assert_eq!(
        (code, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (code, ready) = server.get("/readyz").await;
    assert_eq!(
        (code, ready["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    server.stop().await;
}

async fn without_a_token_only_loopback_host_names_are_served(db: TestDb) {
    let server = TestServer::start(&db).await;
    let as_host = |host: &'static str| {
        server
            .http
            .get(server.url("/api/jobs/list"))
            .header("host", host)
            .send()
    };
    // A page on a rebound domain reaches 127.0.0.1 but names its own domain.
    let rebound = as_host("evil.example:8080").await.unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    let body: Value = rebound.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("loopback"));
    assert_eq!(
        as_host("localhost:8080").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(as_host("127.0.0.1").await.unwrap().status(), StatusCode::OK);
    server.stop().await;

    let mut config = fast_config(&db);
    config.api_token = Some("client-token-0123456789".into());
    let server = TestServer::start_with(config).await;
    let named = server
        .http
        .get(server.url("/api/jobs/list"))
        .header("host", "gantry.example.com")
        .bearer_auth("client-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(
        named.status(),
        StatusCode::OK,
        "with a token any name is fine"
    );
    server.stop().await;
}

crate::common::on_both_databases!(
    without_a_token_only_loopback_host_names_are_served,
    uploads_round_trip_with_safe_names,
    tokens_guard_every_route,
    the_join_token_cannot_take_over_a_worker,
    an_offline_worker_may_be_rejoined_with_the_join_token,
    health_and_readiness,
);
