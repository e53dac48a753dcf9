//! Error answers in the contract's shape: `{"request_id", "error": {"type", "message"}}`.
//! Messages name ids and fields, never a secret.

use axum::http::StatusCode;

use crate::api::{ErrorBody, ErrorDetail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found_error", message)
    }

    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            request_id: request_id.to_string(),
            error: ErrorDetail {
                error_type: Some(self.kind.to_string()),
                message: Some(self.message.clone()),
                // The contract lists it; the simulator has no provider behind it to quote.
                provider_error: Some(serde_json::Map::new()),
            },
        }
    }
}
