//! Image uploads through the GraphQL multipart request spec: size limit, type by magic bytes,
//! then the application's `FileStore`. Nothing is stored for a refused file.

use std::io::Read;

use async_graphql::{Context, Upload};

use crate::error::{AppError, AppResult};
use crate::graphql::context::app;
use crate::storage::{ImageKind, image_key};

/// Validates an uploaded image and stores it under `folder`; returns the public URL.
pub async fn store_image(ctx: &Context<'_>, file: Upload, folder: &str) -> AppResult<String> {
    let app = app(ctx)?;
    let max = app.config.upload_max_bytes;
    let value = file
        .value(ctx)
        .map_err(|e| AppError::bad_input(format!("`file` could not be read: {e}")))?;
    let mut bytes = Vec::new();
    // Read one byte past the limit: enough to know the file is too large without reading it all.
    value
        .content
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| AppError::bad_input(format!("`file` could not be read: {e}")))?;
    if bytes.len() > max {
        return Err(AppError::bad_input(format!(
            "`file` is larger than {max} bytes"
        )));
    }
    let kind = ImageKind::sniff(&bytes)
        .ok_or_else(|| AppError::bad_input("`file` must be a JPEG, PNG, WebP or AVIF image"))?;
    let key = image_key(folder, &bytes, kind);
    app.files.put(&key, bytes, kind.mime()).await
}
