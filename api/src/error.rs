//! The one error type of the API and its JSON form `{"error":{"code","message"}}`.
//!
//! Codes are stable snake_case strings that clients may match on; messages are for humans.
//! Store and driver errors become `internal` with a fixed message: their text can name
//! tables, constraints or paths, so it is logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad id in the path, missing query parameter).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not valid JSON or not declared as JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// Missing or wrong credentials.
    #[error("authentication required")]
    Unauthorized,
    /// The resource does not exist or belongs to another tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value (number, username, gateway name) is taken.
    #[error("{0}")]
    Conflict(String),
    /// The body exceeds the size limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// A phone number cannot be normalised to E.164.
    #[error("{0}")]
    InvalidNumber(String),
    /// Well-formed JSON with values that fail validation.
    #[error("{0}")]
    Validation(String),
    /// A dependency (the store) does not answer.
    #[error("service not ready")]
    NotReady,
    /// A bug or an infrastructure failure; details are logged, not returned.
    #[error("internal server error")]
    Internal,
}

impl ApiError {
    /// The HTTP status this error is sent with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidNumber(_) | ApiError::Validation(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::InvalidNumber(_) => "invalid_number",
            ApiError::Validation(_) => "validation_failed",
            ApiError::NotReady => "not_ready",
            ApiError::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut resp = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            // Basic first and with gofaxserver's realm, so its clients keep working.
            let h = resp.headers_mut();
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Restricted\""),
            );
            h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::InvalidNumber { input, reason } => {
                ApiError::InvalidNumber(format!("invalid number {input:?}: {reason}"))
            }
            store::Error::Invalid { field, reason } => {
                ApiError::Validation(format!("invalid {field}: {reason}"))
            }
            // The driver's text names the constraint; the handler knows better what clashed.
            store::Error::Conflict(_) => ApiError::Conflict("already exists".into()),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::Internal
            }
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
