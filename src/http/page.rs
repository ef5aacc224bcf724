//! The HTML page frame every server-rendered answer uses: escaping, the navigation frame, the
//! security headers and the error page. The dashboard renders its pages in it, and
//! `POST /api/execute` answers a browser form's error with its error page.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which navigation tab is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The overview.
    Overview,
    /// The job list and job pages.
    Jobs,
    /// The fleet.
    Workers,
    /// No tab (login, errors).
    None,
}

/// A whole page: the frame around `body`. `signed_in` shows the sign-out button.
pub fn page(title: &str, tab: Tab, signed_in: bool, body: &str) -> String {
    let link = |t: Tab, href: &str, label: &str| {
        let class = if t == tab { " class=\"current\"" } else { "" };
        format!("<a href=\"{href}\"{class}>{label}</a>")
    };
    let logout = if signed_in {
        "<form method=\"post\" action=\"/logout\" class=\"logout\">\
         <button type=\"submit\" class=\"link\">Sign out</button></form>"
    } else {
        ""
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · gantry</title>\
         <link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/assets/app.css\">\
         <script src=\"/assets/app.js\" defer></script></head>\n<body>\
         <header class=\"top\"><a class=\"brand\" href=\"/\">gantry</a><nav>{}{}{}</nav>\
         <span id=\"live\" class=\"live\" title=\"updates every 2 s\"></span>{logout}</header>\n\
         <main>{body}</main></body></html>\n",
        link(Tab::Overview, "/", "Overview"),
        link(Tab::Jobs, "/jobs", "Jobs"),
        link(Tab::Workers, "/workers", "Workers"),
        title = esc(title),
    )
}

/// What pages may load: only this server's own scripts, so markup that slipped through
/// escaping could still not run; inline styles are allowed for the meters' widths.
pub const CSP: &str =
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                       frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// An HTML answer.
pub fn respond(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

/// A page that says what went wrong, with a way back.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<section class=\"panel narrow\"><h1>{} {}</h1><p class=\"error\">{}</p>\
         <p><a href=\"/\">Overview</a> · <a href=\"/jobs\">Jobs</a></p></section>",
        status.as_u16(),
        esc(status.canonical_reason().unwrap_or("")),
        esc(message)
    );
    respond(status, page("Error", Tab::None, false, &body))
}
