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
    /// The uploaded document is of a kind we do not convert (sniffed from its bytes).
    #[error("{0}")]
    UnsupportedDocument(String),
    /// The uploaded document is damaged, encrypted or empty.
    #[error("{0}")]
    InvalidDocument(String),
    /// The document has more pages than the limit.
    #[error("{0}")]
    TooManyPages(String),
    /// An image has more pixels than the limit.
    #[error("{0}")]
    ImageTooLarge(String),
    /// Converting the document took longer than the limit.
    #[error("{0}")]
    ConversionTimeout(String),
    /// An `Idempotency-Key` was reused with a different request.
    #[error("this Idempotency-Key was used for a different request in the last 24 hours")]
    IdempotencyKeyReused,
    /// The job is being sent (a worker holds it), so it cannot be cancelled.
    #[error("the job is being processed and can no longer be cancelled")]
    JobInProgress,
    /// The job has ended (done or failed), so it cannot be cancelled.
    #[error("the job has already ended ({0})")]
    JobFinished(&'static str),
    /// A listing cursor that this server did not issue.
    #[error("invalid cursor: pass next_cursor from the previous page unchanged")]
    InvalidCursor,
    /// A dependency (the store) does not answer.
    #[error("service not ready")]
    NotReady,
    /// Too many wrong credentials from this address; refused until `retry_after` seconds.
    #[error("too many failed authentication attempts from this address; retry later")]
    TooManyAuthFailures {
        /// Seconds until the address may try again.
        retry_after: u64,
    },
    /// The tenant's request rate is exceeded.
    #[error("request rate limit exceeded; retry later")]
    RateLimited {
        /// Seconds until the next request is accepted.
        retry_after: u64,
    },
    /// The toll-fraud guard refuses the destination (international or premium-rate).
    #[error("{0}")]
    DestinationBlocked(String),
    /// The tenant's daily cap on faxes or pages is reached.
    #[error("{message}")]
    DailyLimit {
        /// Which cap.
        message: String,
        /// Seconds until the count starts again (next UTC midnight).
        retry_after: u64,
    },
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
            ApiError::Conflict(_) | ApiError::JobInProgress | ApiError::JobFinished(_) => {
                StatusCode::CONFLICT
            }
            ApiError::PayloadTooLarge | ApiError::TooManyPages(_) | ApiError::ImageTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedDocument(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidNumber(_)
            | ApiError::Validation(_)
            | ApiError::InvalidDocument(_)
            | ApiError::ConversionTimeout(_)
            | ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidCursor => StatusCode::BAD_REQUEST,
            ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyAuthFailures { .. }
            | ApiError::RateLimited { .. }
            | ApiError::DailyLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::DestinationBlocked(_) => StatusCode::FORBIDDEN,
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
            ApiError::UnsupportedDocument(_) => "unsupported_document",
            ApiError::InvalidDocument(_) => "invalid_document",
            ApiError::TooManyPages(_) => "too_many_pages",
            ApiError::ImageTooLarge(_) => "image_too_large",
            ApiError::ConversionTimeout(_) => "conversion_timeout",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::JobInProgress => "job_in_progress",
            ApiError::JobFinished(_) => "job_finished",
            ApiError::InvalidCursor => "invalid_cursor",
            ApiError::NotReady => "not_ready",
            ApiError::TooManyAuthFailures { .. } => "too_many_auth_failures",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::DestinationBlocked(_) => "destination_blocked",
            ApiError::DailyLimit { .. } => "daily_limit",
            ApiError::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            ApiError::TooManyAuthFailures { retry_after }
            | ApiError::RateLimited { retry_after }
            | ApiError::DailyLimit { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
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
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
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
