//! Uploads: a job's input file goes in as multipart and is served to workers by id.
//!
//! Files are stored in the database, so every server replica can serve every file.

use super::auth::require_client_or_worker;
use crate::clock::now_ms;
use crate::http::error::{ApiError, ApiResult};
use crate::http::validate::uploaded_filename;
use crate::model::UploadInsertParams;
use crate::state::AppState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_api::UploadResponse;
use sha2::{Digest, Sha256};

/// The multipart body of `POST /api/uploads`, as the document shows it: the `file` part
/// (other parts are ignored; the document promises nothing for them).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Only its schema is used: the handler reads the parts as they stream in.
pub struct UploadForm {
    /// The file, sent with its name (a plain file name, or a path whose last part is one).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// `POST /api/uploads`: one multipart field named `file` (the first file field otherwise).
#[utoipa::path(post, path = "/api/uploads", operation_id = "uploadFile", tag = "uploads",
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "a `file` part"),
    responses((status = 201, description = "stored; pass fileUrl to a job", body = UploadResponse), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody),
        (status = 413, description = "larger than the upload limit", body = gantry_api::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<UploadResponse>)> {
    // A body that is not multipart at all gets this API's JSON error too, not axum's text.
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
    })?;
    let limit = state.config.max_upload_bytes;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e, limit))?;
        let Some(field) = field else {
            return Err(ApiError::invalid(
                "file",
                "send the file as a multipart field named `file`",
            ));
        };
        let Some(raw_name) = field.file_name().map(str::to_string) else {
            continue;
        };
        let filename = uploaded_filename("file", &raw_name)?;
        let content = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        if content.len() > limit {
            return Err(ApiError::too_large(format!(
                "the file is larger than {limit} bytes"
            )));
        }
        let stored = store(&state, filename, content.to_vec()).await?;
        return Ok((StatusCode::CREATED, Json(stored)));
    }
}

/// Saves an upload and says where it is served.
pub async fn store(
    state: &AppState,
    filename: String,
    content: Vec<u8>,
) -> ApiResult<UploadResponse> {
    let id = uuid::Uuid::now_v7().to_string();
    let sha256: String = Sha256::digest(&content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let size = content.len() as i64;
    state
        .repo
        .upload_insert(UploadInsertParams {
            id: id.clone(),
            filename: filename.clone(),
            sha256: sha256.clone(),
            content,
            now: now_ms(),
        })
        .await?;
    Ok(UploadResponse {
        file_url: format!("/uploads/{id}/{filename}"),
        id,
        filename,
        size,
        sha256,
    })
}

/// A multipart body that could not be read: 413 past the limit, else 400.
pub(super) fn multipart_error(
    e: axum::extract::multipart::MultipartError,
    limit: usize,
) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(format!("the upload is larger than {limit} bytes"))
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// `GET /uploads/{id}/{filename}`: the stored bytes.
#[utoipa::path(get, path = "/uploads/{id}/{filename}", operation_id = "downloadUpload", tag = "uploads",
    params(("id" = String, Path, description = "upload id"), ("filename" = String, Path, description = "its file name")),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 404, description = "unknown id", body = gantry_api::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, filename)): Path<(String, String)>,
) -> ApiResult<Response> {
    require_client_or_worker(&state, &headers).await?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::invalid(
            "id",
            format!("`{id}` is not an upload id"),
        ));
    }
    let upload = state
        .repo
        .upload_get(&id)
        .await?
        .filter(|u| u.filename == filename)
        .ok_or_else(|| {
            ApiError::not_found("unknown_upload", format!("no upload `{id}/{filename}`"))
        })?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        upload.filename.replace('"', "")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::ETAG, format!("\"{}\"", upload.sha256)),
        ],
        upload.content,
    )
        .into_response())
}
