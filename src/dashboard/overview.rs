//! The overview at `/`: the fleet, the submit form and the newest jobs on one page.

use super::html::{self, Tab};
use super::{jobs, workers, PageResult};
use crate::clock::now_ms;
use crate::http::reads;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// Jobs shown on the overview.
pub const RECENT_JOBS: i64 = 20;

/// The submit form. It posts to `/api/execute`: as a plain form it lands on the new job's
/// page; with JavaScript the answer shows below the button.
pub fn submit_form() -> String {
    "<form id=\"submit-form\" method=\"post\" action=\"/api/execute\" \
     enctype=\"multipart/form-data\" class=\"stack\">\
     <label>Command <textarea name=\"command\" id=\"command\" rows=\"3\" required \
     spellcheck=\"false\" placeholder=\"echo hello &amp;&amp; uname -a\"></textarea></label>\
     <div class=\"row\"><label>Image <input name=\"image\" id=\"image\" \
     placeholder=\"worker default\" spellcheck=\"false\"></label>\
     <label>File <input type=\"file\" name=\"file\" id=\"file\"></label></div>\
     <div class=\"row\">\
     <label>CPU <input type=\"number\" name=\"requiredCpu\" id=\"requiredCpu\" step=\"0.05\" \
     min=\"0.05\" placeholder=\"0.25\"></label>\
     <label>RAM MiB <input type=\"number\" name=\"requiredRamMb\" id=\"requiredRamMb\" \
     min=\"8\" placeholder=\"128\"></label>\
     <label>Timeout ms <input type=\"number\" name=\"timeoutMs\" id=\"timeoutMs\" min=\"1\" \
     placeholder=\"default 1h\"></label></div>\
     <div class=\"row\">\
     <label>Retries <input type=\"number\" name=\"maxRetries\" id=\"maxRetries\" min=\"0\" \
     max=\"100\" placeholder=\"0\"></label>\
     <label>Priority <input type=\"number\" name=\"priority\" id=\"priority\" min=\"-1000\" \
     max=\"1000\" placeholder=\"0\"></label></div>\
     <label>Environment <textarea name=\"env\" id=\"env\" rows=\"2\" spellcheck=\"false\" \
     placeholder=\"KEY=VALUE, one per line\"></textarea></label>\
     <div class=\"actions\"><button type=\"submit\" class=\"primary\" id=\"submit\">Run job</button>\
     <span id=\"submit-result\" role=\"status\" aria-live=\"polite\"></span></div></form>"
        .into()
}

/// `GET /`.
pub async fn page(State(state): State<AppState>) -> PageResult {
    let fleet = reads::workers(&state).await?;
    let (recent, _) = jobs::load(&state, None, None, None, RECENT_JOBS).await?;
    let now = now_ms();
    let body = format!(
        "<section id=\"fleet\" data-live class=\"panel\"><h2>Workers</h2>{}{}</section>\
         <div class=\"cols\">\
         <section class=\"panel form-panel\"><h2>Submit a job</h2>{}</section>\
         <section class=\"panel grow\"><h2>Recent jobs <a class=\"more\" href=\"/jobs\">all jobs »</a></h2>\
         <div id=\"recent\" data-live>{}</div></section></div>",
        workers::summary(&fleet),
        workers::table(&fleet, now),
        submit_form(),
        jobs::table(&recent, now, "No job yet: submit one with the form."),
    );
    Ok(html::respond(
        StatusCode::OK,
        html::page(
            "Overview",
            Tab::Overview,
            state.config.api_token.is_some(),
            &body,
        ),
    ))
}
