//! `POST /api/execute` and the dashboard's pages, through a real server on both databases:
//! bad input changes nothing, `wait=true` returns the ended job, pages escape every user
//! value, forms work without JavaScript, and an API token guards the pages.

use crate::common::server::fast_config;
use crate::common::{SimWorker, TestDb, TestServer};
use gantry_api::{Job, JobStatus};
use reqwest::multipart::{Form, Part};
use reqwest::{header, redirect, StatusCode};
use serde_json::{json, Value};

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

async fn execute(server: &TestServer, query: &str, form: Form) -> (StatusCode, Value) {
    let r = server
        .http
        .post(server.url(&format!("/api/execute{query}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn job_count(server: &TestServer) -> usize {
    let (_, list) = server.get("/api/jobs/list?limit=1000").await;
    list["jobs"].as_array().unwrap().len()
}

async fn page(server: &TestServer, path: &str) -> (StatusCode, String) {
    let r = no_redirects().get(server.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn execute_refuses_bad_input_and_creates_nothing(db: TestDb) {
    let server = TestServer::start(&db).await;
    let bad_json = [
        (json!({"command": ""}), "command"),
        (json!({"command": "x", "requiredCpu": -1}), "requiredCpu"),
        (json!({"command": "x", "filename": "../x"}), "filename"),
    ];
    for (body, field) in bad_json {
        let (status, answer) = server.post("/api/execute", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let cases: [(Form, &str); 5] = [
        (Form::new().text("image", "busybox"), "command"),
        (
            Form::new().text("command", "x").text("requiredCpu", "lots"),
            "requiredCpu",
        ),
        (
            Form::new().text("command", "x").text("env", "NOT A PAIR"),
            "env",
        ),
        (
            Form::new()
                .text("command", "x")
                .part("file", Part::bytes(b"hi".to_vec()).file_name("..")),
            "file",
        ),
        (
            Form::new()
                .text("command", "x")
                .text("fileUrl", "/uploads/a/b")
                .part("file", Part::bytes(b"hi".to_vec()).file_name("a.txt")),
            "fileUrl",
        ),
    ];
    for (form, field) in cases {
        let (status, answer) = execute(&server, "", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, answer) = execute(
        &server,
        "?wait=true&waitMs=99999999",
        Form::new().text("command", "x"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["field"], "waitMs");
    let not_json = server
        .http
        .post(server.url("/api/execute"))
        .body("command=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(job_count(&server).await, 0, "nothing was created");
    server.stop().await;
}

async fn execute_uploads_the_file_and_creates_the_job(db: TestDb) {
    let server = TestServer::start(&db).await;
    let form = Form::new()
        .text("command", "cat data.txt")
        .text("image", "busybox:test")
        .text("requiredCpu", "0.5")
        .text("requiredRamMb", "64")
        .text("timeoutMs", "30000")
        .text("maxRetries", "2")
        .text("priority", "7")
        .text("env", "GREETING=hello\nEMPTY=")
        .text("network", "")
        .part(
            "file",
            Part::bytes(b"some input".to_vec()).file_name("dir/data.txt"),
        );
    let (status, answer) = execute(&server, "", form).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let job: Job = serde_json::from_value(answer).unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.filename.as_deref(), Some("data.txt"));
    assert_eq!(job.required_cpu, 0.5);
    assert_eq!(job.required_ram_mb, 64);
    assert_eq!(
        (job.timeout_ms, job.max_retries, job.priority),
        (30000, 2, 7)
    );
    assert_eq!(job.env["GREETING"], "hello");
    assert_eq!(job.image.as_deref(), Some("busybox:test"));
    let url = job.file_url.expect("a file URL");
    let file = server.http.get(server.url(&url)).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"some input");

    // A JSON body works too, and an idempotency key finds the first job.
    let body = json!({"command": "echo hi", "idempotencyKey": "k1"});
    let (first, a) = server.post("/api/execute", &body).await;
    let (second, b) = server.post("/api/execute", &body).await;
    assert_eq!((first, second), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);
    server.stop().await;
}

async fn execute_wait_returns_the_completed_job(db: TestDb) {
    let server = TestServer::start(&db).await;
    let worker = SimWorker::register(&server, "w1", 2.0, 1024, 2).await;
    let body = json!({"command": "echo out", "requiredCpu": 0.5});
    let (answer, ()) = tokio::join!(server.post("/api/execute?wait=true", &body), async {
        let job = worker.take_one().await;
        worker.run_ok(&job).await;
    });
    let (status, json) = answer;
    assert_eq!(status, StatusCode::OK, "{json}");
    let job: Job = serde_json::from_value(json).unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(job.stdout.as_deref(), Some("out"));

    // No worker takes the next one: the wait runs out and the job comes back as it is.
    let started = std::time::Instant::now();
    let (status, json) = server
        .post(
            "/api/execute?wait=true&waitMs=300",
            &json!({"command": "x", "requiredCpu": 64}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["status"], "QUEUED");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    server.stop().await;
}

async fn pages_escape_user_values(db: TestDb) {
    let server = TestServer::start(&db).await;
    let _worker = SimWorker::register(&server, "w-dash", 4.0, 8192, 2).await;
    let evil = "<script>alert(1)</script>";
    let job = server
        .create(json!({"command": evil, "env": {"X": "\"><img src=x onerror=alert(2)>"}}))
        .await;
    for path in ["/", "/jobs", &format!("/jobs/{}", job.id), "/workers"] {
        let (status, html) = page(&server, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(!html.contains(evil), "{path} shows the command unescaped");
        assert!(!html.contains("<img src=x"), "{path} shows env unescaped");
        assert!(html.contains("/assets/app.js"), "{path} loads the script");
    }
    let (_, html) = page(&server, &format!("/jobs/{}", job.id)).await;
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        html.contains("id=\"cancel\""),
        "a waiting job can be cancelled"
    );
    let (_, html) = page(&server, "/").await;
    assert!(html.contains("w-dash") && html.contains("w-idle"), "{html}");
    assert!(html.contains("id=\"submit-form\""));
    let (status, _) = page(&server, "/jobs/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = page(&server, &format!("/jobs/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for asset in ["/assets/app.js", "/assets/app.css", "/assets/favicon.svg"] {
        let r = server.http.get(server.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
    server.stop().await;
}

async fn forms_work_without_javascript(db: TestDb) {
    let server = TestServer::start(&db).await;
    let http = no_redirects();
    // A browser posting the form asks for HTML and lands on the new job's page.
    let r = http
        .post(server.url("/api/execute"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .multipart(Form::new().text("command", "sleep 600").text("image", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    let id = location
        .strip_prefix("/jobs/")
        .expect("the job page")
        .to_string();
    assert_eq!(server.status(&id).await.job.status, JobStatus::Queued);

    let r = http
        .post(server.url(&format!("/jobs/{id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.status(&id).await.job.status, JobStatus::Cancelled);
    let (_, html) = page(&server, &location).await;
    assert!(html.contains("s-cancelled") && !html.contains("id=\"cancel\""));

    // A second cancel is refused with the reason, as an HTML page.
    let r = http
        .post(server.url(&format!("/jobs/{id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // A form posted from another site is refused.
    let r = http
        .post(server.url("/api/execute"))
        .header(header::ORIGIN, "http://evil.example")
        .multipart(Form::new().text("command", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

async fn filters_and_paging(db: TestDb) {
    let server = TestServer::start(&db).await;
    for i in 0..52 {
        server
            .create(json!({"command": format!("echo job-{i:02}")}))
            .await;
    }
    let (_, html) = page(&server, "/jobs").await;
    assert!(html.contains("echo job-51") && !html.contains("echo job-01"));
    let older = html
        .split("href=\"")
        .find(|s| s.contains("cursor="))
        .and_then(|s| s.split('"').next())
        .expect("an Older link")
        .replace("&amp;", "&");
    let (_, html) = page(&server, &older).await;
    assert!(html.contains("echo job-01") && !html.contains("echo job-51"));
    let (_, html) = page(&server, "/jobs?q=job-07").await;
    assert!(html.contains("echo job-07") && !html.contains("echo job-08"));
    let (_, html) = page(&server, "/jobs?status=completed").await;
    assert!(html.contains("No job matches."));
    let (status, _) = page(&server, "/jobs?status=done").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

async fn api_token_guards_the_dashboard(db: TestDb) {
    let mut config = fast_config(&db);
    config.api_token = Some("s3cret".into());
    let server = TestServer::start_with(config).await;
    let http = no_redirects();
    let r = http.get(server.url("/jobs?q=a")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/login?next=/jobs%3Fq%3Da");
    let r = http
        .get(server.url("/assets/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "assets need no sign-in");
    let (status, html) = page(&server, "/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("type=\"password\""));

    let login = |token: &str| {
        http.post(server.url("/login"))
            .form(&[("token", token), ("next", "/workers")])
            .send()
    };
    assert_eq!(
        login("wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let r = login("s3cret").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/workers");
    let set_cookie = r.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(
        !set_cookie.contains("s3cret"),
        "the cookie is not the token"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let r = http
        .get(server.url("/"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let form = || Form::new().text("command", "echo hi");
    let r = http
        .post(server.url("/api/execute"))
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for (name, value) in [
        (header::COOKIE, cookie.clone()),
        (header::AUTHORIZATION, "Bearer s3cret".to_string()),
    ] {
        let r = http
            .post(server.url("/api/execute"))
            .header(name, value)
            .multipart(form())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let forged = "gantry_session=0000";
    let r = http
        .get(server.url("/"))
        .header(header::COOKIE, forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}

crate::common::on_both_databases!(
    execute_refuses_bad_input_and_creates_nothing,
    execute_uploads_the_file_and_creates_the_job,
    execute_wait_returns_the_completed_job,
    pages_escape_user_values,
    forms_work_without_javascript,
    filters_and_paging,
    api_token_guards_the_dashboard,
);
