//! The one error type of the application and its mapping to GraphQL `extensions.code` and HTTP.
//!
//! Client variants carry a message that is safe to show; internal variants keep their source for
//! the log and reach the client only as a generic message, so SQL and stack traces never leak.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Machine-readable error codes, rendered as `extensions.code` (public API: do not rename).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request's arguments or variables are invalid.
    BadUserInput,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The credentials are valid but lack the permission.
    Forbidden,
    /// The addressed entity does not exist (or is not visible to the viewer).
    NotFound,
    /// The change conflicts with existing data (duplicate handle, stale state).
    Conflict,
    /// Too many attempts (sign-in throttle).
    TooManyRequests,
    /// A dependency (the database) is unavailable; retrying later may succeed.
    ServiceUnavailable,
    /// A bug or an unexpected failure; details are only in the server log.
    Internal,
}

impl ErrorCode {
    /// The wire form, e.g. `BAD_USER_INPUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

/// Every failure a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Invalid input; the message names the argument or field.
    #[error("{0}")]
    BadUserInput(String),
    /// Missing, invalid or expired credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The entity does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with existing data.
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; retry later.
    #[error("{0}")]
    RateLimited(String),
    /// A query failed inside PostgreSQL or on the wire.
    #[error("database error")]
    Database(#[from] diesel::result::Error),
    /// No database connection could be had in time.
    #[error("database unavailable")]
    Pool(#[from] bb8::RunError<diesel_async::pooled_connection::PoolError>),
    /// A dependency is unavailable (shared form of `Pool`, which cannot be cloned).
    #[error("database unavailable")]
    Unavailable,
    /// Another dependency (file storage) did not answer; retrying later may succeed.
    #[error("{0} unavailable")]
    DependencyUnavailable(&'static str),
    /// Anything else unexpected.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A `BAD_USER_INPUT` error.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }

    /// A `NOT_FOUND` error naming what was looked for.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// An owned copy for another caller of a shared result (loader batches, single flights):
    /// client errors keep their text, internal ones keep their code and log chain.
    pub fn shared(&self) -> AppError {
        match self {
            Self::BadUserInput(m) => Self::BadUserInput(m.clone()),
            Self::Unauthenticated(m) => Self::Unauthenticated(m.clone()),
            Self::Forbidden(m) => Self::Forbidden(m.clone()),
            Self::NotFound(m) => Self::NotFound(m.clone()),
            Self::Conflict(m) => Self::Conflict(m.clone()),
            Self::RateLimited(m) => Self::RateLimited(m.clone()),
            Self::Pool(_) | Self::Unavailable => Self::Unavailable,
            Self::DependencyUnavailable(what) => Self::DependencyUnavailable(what),
            Self::Database(e) if self.code() == ErrorCode::ServiceUnavailable => {
                tracing::debug!(error = %e, "shared database error");
                Self::Unavailable
            }
            other => Self::Internal(anyhow::anyhow!(error_chain(other))),
        }
    }

    /// Whether the connection broke under the statement (backend terminated, network cut): an
    /// idempotent read may run again on a fresh connection.
    pub fn is_connection_loss(&self) -> bool {
        matches!(self, Self::Database(e) if connection_lost(e))
    }

    /// The code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput(_) => ErrorCode::BadUserInput,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::RateLimited(_) => ErrorCode::TooManyRequests,
            Self::Database(diesel::result::Error::NotFound) => ErrorCode::NotFound,
            Self::Database(e) if connection_lost(e) => ErrorCode::ServiceUnavailable,
            Self::Pool(_) | Self::Unavailable | Self::DependencyUnavailable(_) => {
                ErrorCode::ServiceUnavailable
            }
            Self::Database(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message clients see: the text for client errors, a generic line for internal ones.
    pub fn public_message(&self) -> String {
        match self.code() {
            ErrorCode::ServiceUnavailable => "service temporarily unavailable, retry later".into(),
            ErrorCode::Internal => "internal error".into(),
            ErrorCode::NotFound if matches!(self, Self::Database(_)) => "not found".into(),
            _ => self.to_string(),
        }
    }

    fn log(&self) {
        if matches!(
            self.code(),
            ErrorCode::Internal | ErrorCode::ServiceUnavailable
        ) {
            tracing::error!(error = %error_chain(self), "request failed");
        }
    }
}

/// The connection broke under the statement: closed, unable to send, or its backend ended by
/// the server (`57P01` admin shutdown, as `pg_terminate_backend` does; `57P02` crash shutdown),
/// which the driver reports only by its message.
pub fn connection_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind as Kind;
    match error {
        diesel::result::Error::DatabaseError(
            Kind::ClosedConnection | Kind::UnableToSendCommand,
            _,
        ) => true,
        diesel::result::Error::DatabaseError(Kind::Unknown, info) => {
            info.message().starts_with("terminating connection")
        }
        _ => false,
    }
}

/// Formats an error with all its sources, for the log only.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        self.log();
        async_graphql::Error::new(self.public_message())
            .extend_with(|_, ext| ext.set("code", self.code().as_str()))
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        error.extend()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = match self.code() {
            ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = serde_json::json!({ "error": { "code": self.code().as_str(), "message": self.public_message() } });
        (status, axum::Json(body)).into_response()
    }
}

/// Result of services, resolvers and loaders.
pub type AppResult<T> = Result<T, AppError>;

/// Turns a DataLoader result (its error is an `Arc<AppError>`, as loaders need `Clone`) into a
/// GraphQL result with the right `extensions.code`.
pub trait LoadResultExt<T> {
    /// Maps the shared error to a GraphQL error.
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> LoadResultExt<T> for Result<T, std::sync::Arc<AppError>> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_render_as_the_public_strings() {
        assert_eq!(AppError::bad_input("x").code().as_str(), "BAD_USER_INPUT");
        assert_eq!(AppError::not_found("product").code().as_str(), "NOT_FOUND");
        assert_eq!(
            AppError::Conflict("handle".into()).code().as_str(),
            "CONFLICT"
        );
        assert_eq!(
            AppError::Unauthenticated("x".into()).code().as_str(),
            "UNAUTHENTICATED"
        );
        assert_eq!(AppError::Forbidden("x".into()).code().as_str(), "FORBIDDEN");
    }

    #[test]
    fn internal_errors_hide_their_details() {
        let err = AppError::Internal(anyhow::anyhow!("relation \"products\" does not exist"));
        assert_eq!(err.public_message(), "internal error");
        assert_eq!(err.code(), ErrorCode::Internal);
    }
}
