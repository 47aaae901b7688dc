//! Files the server stores and serves. For now the local-disk store served under `/files/`
//! (uploads and an S3/R2 store arrive with the admin API).

use std::path::{Component, Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// Content type by file extension; anything unknown is served as bytes.
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Resolves a URL path under `root`, refusing anything that could leave it.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let relative = Path::new(url_path);
    if url_path.is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    Some(root.join(relative))
}

/// `GET /files/{*path}` from the local file store.
pub async fn serve_file(State(app): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(file) = resolve(&app.config.files_dir, &path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // The same blocking read tokio::fs would do, without another tokio feature.
    let read = tokio::task::spawn_blocking({
        let file = file.clone();
        move || std::fs::read(file)
    })
    .await;
    match read {
        Ok(Ok(bytes)) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&file)),
            );
            // Stored names never change content: a new file gets a new name.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape_the_root() {
        let root = Path::new("/srv/files");
        assert_eq!(
            resolve(root, "banners/a.jpg"),
            Some(PathBuf::from("/srv/files/banners/a.jpg"))
        );
        assert!(resolve(root, "../etc/passwd").is_none());
        assert!(resolve(root, "a/../../b").is_none());
        assert!(resolve(root, "/etc/passwd").is_none());
        assert!(resolve(root, "").is_none());
    }
}
