//! GraphiQL at `/graphiql`, with every asset embedded in the binary (GraphiQL 3.8.3 and React
//! 18.3.1 from npm, licences beside them in `assets/`), so it works offline and under a strict CSP.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Only our own scripts run; GraphiQL needs inline style attributes and data: fonts/images.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const INDEX: &str = include_str!("assets/index.html");

fn asset(name: &str) -> Option<(&'static [u8], &'static str)> {
    Some(match name {
        "graphiql.min.js" => (
            include_bytes!("assets/graphiql.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "graphiql.min.css" => (
            include_bytes!("assets/graphiql.min.css"),
            "text/css; charset=utf-8",
        ),
        "react.production.min.js" => (
            include_bytes!("assets/react.production.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "react-dom.production.min.js" => (
            include_bytes!("assets/react-dom.production.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "init.js" => (
            include_bytes!("assets/init.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return None,
    })
}

fn with_csp(response: Response) -> Response {
    crate::http::with_csp(response, CSP)
}

/// `GET /graphiql`.
pub async fn page() -> Response {
    with_csp(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            INDEX,
        )
            .into_response(),
    )
}

/// `GET /graphiql/assets/{name}`: versioned with the binary, so cacheable for a day.
pub async fn assets(Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some((bytes, content_type)) => with_csp(
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "public, max-age=86400"),
                ],
                bytes,
            )
                .into_response(),
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
