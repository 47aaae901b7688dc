//! The admin console at `/admin`: a small framework-free app (HTML, CSS and one script, embedded in
//! the binary) that staff use for hero banners today. It talks only to the public API —
//! `/graphql` with the staff token and `/graphql/ws` for live changes — so it works with
//! introspection and GraphiQL off, and has no back door of its own.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Only our own script, styles and connections (the API and its WebSocket are same-origin);
/// images also from any https origin (uploads may live on a CDN) and local previews (`blob:`).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data: blob: https:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn with_headers(response: Response, cache: &'static str) -> Response {
    let mut response = crate::http::with_csp(response, CSP);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// `GET /admin`.
pub async fn page() -> Response {
    with_headers(
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            include_str!("assets/index.html"),
        )
            .into_response(),
        "no-cache",
    )
}

/// `GET /admin/assets/{name}`: versioned with the binary; revalidated so a deploy shows at once.
pub async fn assets(Path(name): Path<String>) -> Response {
    let (bytes, content_type): (&'static [u8], &'static str) = match name.as_str() {
        "app.js" => (
            include_bytes!("assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (include_bytes!("assets/app.css"), "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    with_headers(
        ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        "no-cache",
    )
}
