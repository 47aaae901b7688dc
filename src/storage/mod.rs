//! Files the server stores and serves: uploads go through one [`FileStore`], either an
//! S3-compatible bucket (Cloudflare R2, MinIO, AWS; aws-sdk-s3 with a custom endpoint and optional
//! path-style addressing) or the local disk, served under `/files/`. Object keys are built here.

use std::path::{Component, Path, PathBuf};

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::config::S3Config;
use crate::error::{AppError, AppResult};

/// An accepted image format, recognised by its magic bytes (never by the client's claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
    /// AVIF.
    Avif,
}

impl ImageKind {
    /// Sniffs the first bytes of a file.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.len() >= 12
            && &bytes[4..8] == b"ftyp"
            && matches!(&bytes[8..12], b"avif" | b"avis")
        {
            Some(Self::Avif)
        } else {
            None
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
        }
    }

    /// MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
        }
    }
}

/// The object key of an uploaded image: content-addressed, so a name never changes content.
pub fn image_key(folder: &str, bytes: &[u8], kind: ImageKind) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{folder}/{hex}.{}", kind.extension())
}

/// Where uploads are stored.
pub enum FileStore {
    /// A directory served under `/files/`.
    Local {
        /// Root directory.
        dir: PathBuf,
        /// Public URL prefix of the files (`/files` or an absolute origin).
        public_base: String,
    },
    /// An S3-compatible bucket.
    S3 {
        /// The SDK client.
        client: aws_sdk_s3::Client,
        /// Bucket name.
        bucket: String,
        /// Public URL prefix of the bucket (R2 custom domain or `r2.dev` URL).
        public_base: String,
    },
}

impl FileStore {
    /// The S3 store when configured, the local one otherwise.
    pub fn from_config(s3: Option<&S3Config>, files_dir: &Path, public_base: &str) -> Self {
        match s3 {
            Some(c) => {
                let mut builder = aws_sdk_s3::config::Builder::new()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new(c.region.clone()))
                    .credentials_provider(Credentials::new(
                        &c.access_key_id,
                        &c.secret_access_key,
                        None,
                        None,
                        "env",
                    ))
                    .force_path_style(c.force_path_style)
                    // A hung storage fails an upload in bounded time (the SDK retries inside it).
                    .timeout_config(
                        aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                            .connect_timeout(std::time::Duration::from_secs(3))
                            .operation_timeout(std::time::Duration::from_secs(30))
                            .build(),
                    )
                    // R2 and MinIO reject the newer default checksum headers.
                    .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                    .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
                if let Some(endpoint) = &c.endpoint {
                    builder = builder.endpoint_url(endpoint);
                }
                Self::S3 {
                    client: aws_sdk_s3::Client::from_conf(builder.build()),
                    bucket: c.bucket.clone(),
                    public_base: c.public_url.trim_end_matches('/').to_owned(),
                }
            }
            None => Self::Local {
                dir: files_dir.to_owned(),
                public_base: public_base.trim_end_matches('/').to_owned(),
            },
        }
    }

    /// Stores bytes under `key`; returns the public URL.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> AppResult<String> {
        match self {
            Self::Local { dir, public_base } => {
                let path = resolve(dir, key)
                    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("bad object key {key}")))?;
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    // Write then rename: a reader never sees a half-written file.
                    let tmp = path.with_extension("partial");
                    std::fs::write(&tmp, &bytes)?;
                    std::fs::rename(&tmp, &path)
                })
                .await
                .map_err(|e| AppError::Internal(e.into()))?
                .map_err(|e| AppError::Internal(anyhow::anyhow!("storing {key}: {e}")))?;
                Ok(format!("{public_base}/{key}"))
            }
            Self::S3 {
                client,
                bucket,
                public_base,
            } => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .cache_control("public, max-age=31536000, immutable")
                    .body(bytes.into())
                    .send()
                    .await
                    .map_err(|e| {
                        use aws_sdk_s3::error::SdkError;
                        // Not reached, too slow, or answering 5xx: the storage is down, not the
                        // request wrong; the client may retry later.
                        let down = matches!(
                            e,
                            SdkError::TimeoutError(_)
                                | SdkError::DispatchFailure(_)
                                | SdkError::ResponseError(_)
                        ) || matches!(&e, SdkError::ServiceError(s) if s.raw().status().is_server_error());
                        let context = aws_sdk_s3::error::DisplayErrorContext(&e);
                        if down {
                            tracing::error!(error = %context, key, "file storage unavailable");
                            AppError::DependencyUnavailable("file storage")
                        } else {
                            AppError::Internal(anyhow::anyhow!("storing {key} in S3: {context}"))
                        }
                    })?;
                Ok(format!("{public_base}/{key}"))
            }
        }
    }
}

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
pub async fn serve_file(
    State(root): State<std::sync::Arc<Path>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    let Some(file) = resolve(&root, &path) else {
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

    #[test]
    fn images_are_recognised_by_magic_bytes() {
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(
            ImageKind::sniff(b"\0\0\0\x1cftypavif\0\0"),
            Some(ImageKind::Avif)
        );
        assert_eq!(ImageKind::sniff(b"GIF89a......"), None);
        assert_eq!(ImageKind::sniff(b"<svg></svg>"), None);
        let key = image_key("banners", b"abc", ImageKind::Png);
        assert!(key.starts_with("banners/") && key.ends_with(".png"));
    }
}
