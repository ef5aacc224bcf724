//! Databases the bench creates and drops on the PostgreSQL server it was given (`--database-url`
//! is that server's admin URL), so every figure starts from an empty database.
//!
//! URLs are read and written through sqlx's own connect options, never split as text: a URL
//! such as `postgres:///db?host=/var/run/postgresql` has a `/` after its database name.

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::str::FromStr;

/// The connect options of a PostgreSQL URL; a clear error for anything else (a SQLite URL
/// included: the bench makes its own SQLite files when given no URL).
pub fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    if scheme != "postgres" && scheme != "postgresql" {
        anyhow::bail!(
            "--database-url must be a PostgreSQL server URL (postgres://...), not `{url}`; \
             give none to measure on SQLite files the bench makes itself"
        );
    }
    PgConnectOptions::from_str(url).with_context(|| format!("read the PostgreSQL URL `{url}`"))
}

/// Creates a fresh, empty database on the server at `admin`; its URL.
pub async fn create_database(admin: &str) -> anyhow::Result<String> {
    let name = format!("gantry_bench_{}", uuid::Uuid::new_v4().simple());
    admin_execute(admin, &format!("CREATE DATABASE {name}")).await?;
    database_url(admin, &name)
}

/// Creates database `name` as a copy of database `template` on the server at `admin`; its URL.
pub async fn copy_database(admin: &str, template: &str, name: &str) -> anyhow::Result<String> {
    admin_execute(
        admin,
        &format!("CREATE DATABASE {name} TEMPLATE {template}"),
    )
    .await?;
    database_url(admin, name)
}

/// Drops database `name` on the server at `admin`, closing its connections first.
pub async fn drop_database(admin: &str, name: &str) -> anyhow::Result<()> {
    admin_execute(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
}

/// The database a PostgreSQL URL names.
pub fn database_name(url: &str) -> anyhow::Result<String> {
    options(url)?
        .get_database()
        .map(str::to_string)
        .with_context(|| format!("`{url}` names no database"))
}

/// The URL of database `name` on the server at `admin` (same host or socket, port, user,
/// password and TLS mode).
pub fn database_url(admin: &str, name: &str) -> anyhow::Result<String> {
    Ok(options(admin)?.database(name).to_url_lossy().to_string())
}

/// `url` as libpq (pgbench, psql) reads it: sqlx's own query parameters left out.
pub fn libpq_url(url: &str) -> anyhow::Result<String> {
    let mut url = options(url)?.to_url_lossy();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key.starts_with("ssl"))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    Ok(url.to_string())
}

/// Runs one statement on the admin connection (databases cannot be created inside one).
async fn admin_execute(admin: &str, sql: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect_with(options(admin)?).await?;
    sqlx::query(sql).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database of `url` moved to `name`, read back through sqlx.
    fn moved(url: &str, name: &str) -> PgConnectOptions {
        let moved = database_url(url, name).unwrap();
        assert_eq!(database_name(&moved).unwrap(), name, "{moved}");
        options(&moved).unwrap()
    }

    #[test]
    fn a_tcp_url_keeps_its_server_and_user() {
        let url = "postgres://u:p@127.0.0.1:5432/db";
        assert_eq!(database_name(url).unwrap(), "db");
        let o = moved(url, "gantry_bench_x");
        assert_eq!(
            (o.get_host(), o.get_port(), o.get_username()),
            ("127.0.0.1", 5432, "u")
        );
        assert!(database_url(url, "x").unwrap().contains(":p@"));
    }

    #[test]
    fn a_socket_in_the_query_is_not_cut_at_its_slashes() {
        let url = "postgres:///db?host=/var/run/postgresql";
        assert_eq!(database_name(url).unwrap(), "db");
        let o = moved(url, "scratch");
        assert_eq!(
            o.get_socket().unwrap().to_str(),
            Some("/var/run/postgresql")
        );
    }

    #[test]
    fn a_percent_encoded_socket_host_is_kept() {
        let url = "postgres://u@%2Fvar%2Frun%2Fpostgresql/db";
        assert_eq!(database_name(url).unwrap(), "db");
        let o = moved(url, "scratch");
        assert_eq!(
            o.get_socket().unwrap().to_str(),
            Some("/var/run/postgresql")
        );
        assert_eq!(o.get_username(), "u");
    }

    #[test]
    fn libpq_gets_no_sqlx_parameters() {
        let url = libpq_url("postgres://u@%2Fvar%2Frun%2Fpostgresql/db").unwrap();
        assert!(!url.contains("statement-cache"), "{url}");
        assert!(
            url.contains("sslmode=prefer") && url.contains("/db"),
            "{url}"
        );
        assert!(
            url.starts_with("postgres://u@%2Fvar%2Frun%2Fpostgresql"),
            "{url}"
        );
    }

    #[test]
    fn a_sqlite_url_is_refused_with_a_reason() {
        let e = options("sqlite:///tmp/x.db").unwrap_err().to_string();
        assert!(e.contains("PostgreSQL server URL"), "{e}");
        assert!(database_url("sqlite:///tmp/x.db", "y").is_err());
    }

    #[test]
    fn a_url_without_a_database_names_none() {
        // sqlx fills the database from PGDATABASE when the URL names none.
        if std::env::var_os("PGDATABASE").is_none() {
            assert!(database_name("postgres://u@localhost").is_err());
        }
        let o = moved("postgres://u@localhost", "scratch");
        assert_eq!(o.get_host(), "localhost");
    }
}
