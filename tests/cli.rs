//! The `gantry` CLI against a real server: tables for people, JSON for scripts, and exit codes
//! scripts can use (`submit --wait` exits with the job's exit code).

use crate::common::{SimWorker, TestDb, TestServer};
use serde_json::Value;
use tokio::process::Command;

async fn gantry(server: &TestServer, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .env("GANTRY_URL", &server.base)
        .env_remove("GANTRY_API_TOKEN")
        .output()
        .await
        .expect("run gantry");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn submit_list_status_logs_cancel(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 2).await;
    let (code, out, err) = gantry(
        &server,
        &[
            "submit", "--cpu", "0.5", "--ram", "64", "--env", "A=1", "--", "echo", "hi",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    let job = server.status(&id).await.job;
    assert_eq!(
        (
            job.command.as_str(),
            job.required_ram_mb,
            job.env["A"].as_str()
        ),
        ("echo hi", 64, "1")
    );

    let delivered = worker.take_one().await;
    assert_eq!(worker.start(&delivered).await.0, reqwest::StatusCode::OK);
    worker
        .finish_with(
            &delivered,
            serde_json::json!({"exitCode": 0, "stdout": "hi\n", "stderr": "warn\n",
                "usage": {"cpuSeconds": 0.44, "peakMemoryMb": 42.46, "runMs": 572}}),
        )
        .await;

    let (code, out, _) = gantry(&server, &["jobs"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ID") && out.contains(&id) && out.contains("COMPLETED"),
        "{out}"
    );
    let (_, out, _) = gantry(&server, &["jobs", "--json", "--status", "completed"]).await;
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["jobs"][0]["id"], id.as_str());
    let (code, out, _) = gantry(&server, &["status", &id]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("COMPLETED") && out.contains("history:") && out.contains("placed"),
        "{out}"
    );
    assert!(
        out.contains("used        CPU 0.44 s, peak 42.5 MiB, run 572 ms (of 64 MiB asked)"),
        "{out}"
    );
    let (_, out, err) = gantry(&server, &["logs", &id]).await;
    assert_eq!((out.as_str(), err.as_str()), ("hi\n", "warn\n"));
    let (_, out, _) = gantry(&server, &["workers"]).await;
    assert!(
        out.contains("1 workers: 1 idle") && out.contains("w1"),
        "{out}"
    );

    let (code, out, _) = gantry(&server, &["report", "--group-by", "status"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("COMPLETED") && out.contains("100.0%"), "{out}");
    assert!(
        out.contains("PEAK MiB p50/p95/max") && out.contains("42.5/42.5/42.5"),
        "{out}"
    );

    let (code, _, err) = gantry(&server, &["cancel", &id]).await;
    assert_eq!(code, 4, "a finished job cannot be cancelled: {err}");
    let (code, _, err) = gantry(&server, &["status", "not-an-id"]).await;
    assert_eq!(code, 2, "bad input: {err}");
    let (code, _, _) = gantry(&server, &["status", &uuid::Uuid::now_v7().to_string()]).await;
    assert_eq!(code, 3, "unknown id");
    server.stop().await;
}

async fn submit_wait_exits_with_the_jobs_exit_code(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 2).await;
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), b"data").unwrap();
    let path = input.path().to_str().unwrap().to_string();
    let args = ["submit", "--wait", "--file", &path, "--", "exit", "3"];
    let run = gantry(&server, &args);
    let agent = async {
        let job = worker.take_one().await;
        assert!(job
            .file_url
            .as_deref()
            .is_some_and(|u| u.starts_with("/uploads/")));
        assert_eq!(worker.start(&job).await.0, reqwest::StatusCode::OK);
        worker
            .finish_with(
                &job,
                serde_json::json!({"exitCode": 3, "stdout": "partial\n"}),
            )
            .await;
    };
    let ((code, out, err), ()) = tokio::join!(run, agent);
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "partial\n");
    assert!(err.contains("FAILED"), "{err}");

    let (code, _, _) = gantry(&server, &["jobs", "--url", "http://127.0.0.1:1"]).await;
    assert_eq!(code, 1, "unreachable server");
    server.stop().await;
}

/// `gantry backup` copies a SQLite database while the server writes to it; it never writes
/// over a file, refuses a database that is not there, and names pg_dump for PostgreSQL.
async fn backup_copies_a_running_database_and_refuses_what_it_cannot_do(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let copy_arg = copy.to_str().unwrap();
    let batch = serde_json::json!({"jobs": vec![serde_json::json!({"command": "true"}); 200]});
    server.post("/api/jobs/create-batch", &batch).await;
    // Writes go on while the copy is made.
    let writes = async {
        for _ in 0..5 {
            server.post("/api/jobs/create-batch", &batch).await;
        }
    };
    let url = db.url.as_str();
    let args = ["backup", copy_arg, "--database-url", url];
    let ((code, out, err), ()) = tokio::join!(gantry(&server, &args), writes);
    if db.dialect == gantry::repo::Dialect::Postgres {
        assert_eq!(code, 2, "{out}");
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!copy.exists());
        server.stop().await;
        return;
    }
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("copied {url} to {copy_arg} (")),
        "{out}"
    );
    // A consistent snapshot: whole batches only, at least the first.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{copy_arg}"))
        .await
        .unwrap();
    let (jobs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(jobs >= 200 && jobs % 200 == 0, "{jobs} jobs in the copy");
    pool.close().await;

    let (code, _, err) = gantry(&server, &["backup", copy_arg, "--database-url", url]).await;
    assert_eq!(code, 2);
    assert!(err.contains("exists"), "{err}");
    let missing = dir.path().join("nothing-here.db");
    let missing_url = format!("sqlite://{}", missing.display());
    let other = dir.path().join("other.db");
    let (code, _, err) = gantry(
        &server,
        &[
            "backup",
            other.to_str().unwrap(),
            "--database-url",
            &missing_url,
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("no SQLite database"), "{err}");
    assert!(!missing.exists() && !other.exists(), "nothing made");
    server.stop().await;
}

crate::common::on_both_databases!(
    submit_list_status_logs_cancel,
    submit_wait_exits_with_the_jobs_exit_code,
    backup_copies_a_running_database_and_refuses_what_it_cannot_do
);
