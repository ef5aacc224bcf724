//! Databases the bench creates and drops on the PostgreSQL server it was given (`--database-url`
//! is that server's admin URL), so every figure starts from an empty database.

use anyhow::Context;

/// Creates a fresh, empty database on the server at `admin`; its URL.
pub async fn create_database(admin: &str) -> anyhow::Result<String> {
    let name = format!("gantry_bench_{}", uuid::Uuid::new_v4().simple());
    admin_execute(admin, &format!("CREATE DATABASE {name}")).await?;
    Ok(database_url(admin, &name))
}

/// Creates database `name` as a copy of database `template` on the server at `admin`; its URL.
pub async fn copy_database(admin: &str, template: &str, name: &str) -> anyhow::Result<String> {
    admin_execute(
        admin,
        &format!("CREATE DATABASE {name} TEMPLATE {template}"),
    )
    .await?;
    Ok(database_url(admin, name))
}

/// Drops database `name` on the server at `admin`, closing its connections first.
pub async fn drop_database(admin: &str, name: &str) -> anyhow::Result<()> {
    admin_execute(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
}

/// The database a PostgreSQL URL names (its last path segment).
pub fn database_name(url: &str) -> anyhow::Result<&str> {
    url.rsplit_once('/')
        .map(|(_, name)| name)
        .context("a database URL")
}

/// The URL of database `name` on the server at `admin`.
fn database_url(admin: &str, name: &str) -> String {
    let server = admin.rsplit_once('/').map_or(admin, |(server, _)| server);
    format!("{server}/{name}")
}

/// Runs one statement on the admin connection (databases cannot be created inside one).
async fn admin_execute(admin: &str, sql: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(admin).await?;
    sqlx::query(sql).execute(&pool).await?;
    pool.close().await;
    Ok(())
}
