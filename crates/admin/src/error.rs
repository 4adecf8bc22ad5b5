//! The API's error: a code of the contract, a sentence, the field concerned, and the one place
//! that turns it into a response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tlsedge_api::{ErrorBody, ErrorDetail};
use tlsedge_model::{ErrorCode, ValidationError};
use tlsedge_store::StoreError;

/// An API error: the contract's `{"error": {"code", "message", "field"}}` with a 4xx/5xx
/// status. [`status_of`] is the one place that maps codes to statuses.
#[derive(Debug)]
pub struct ApiError {
    /// The contract's code.
    pub code: ErrorCode,
    /// A sentence for a person; never key material.
    pub message: String,
    /// The field concerned.
    pub field: Option<String>,
    /// The status, when the code's own does not fit (405 for a method a path does not take:
    /// the contract has no code of its own for it).
    status: Option<StatusCode>,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            status: None,
        }
    }

    pub(crate) fn field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    pub(crate) fn not_found(what: &str, name: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("{what} {name:?} does not exist"),
        )
    }

    /// 405 with `InvalidRequest`: the path exists, the method does not.
    pub(crate) fn method_not_allowed() -> Self {
        Self {
            status: Some(StatusCode::METHOD_NOT_ALLOWED),
            ..Self::new(ErrorCode::InvalidRequest, "method not allowed on this path")
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "admin API internal error");
        Self::new(ErrorCode::Internal, "internal error; see the node's log")
    }
}

/// The HTTP status of an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists | ErrorCode::CertificateInUse | ErrorCode::HttpsDependency => {
            StatusCode::CONFLICT
        }
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::InvalidPem
        | ErrorCode::UnsupportedFormat
        | ErrorCode::KeyMismatch
        | ErrorCode::EncryptedKey
        | ErrorCode::CertificateExpired
        | ErrorCode::CertificateNotYetValid
        | ErrorCode::DomainNotCovered
        | ErrorCode::InvalidDomain => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            field: e.field,
            ..Self::new(e.code, e.message)
        }
    }
}

impl From<StoreError> for ApiError {
    /// A store that cannot take the write now is 503 `StoreUnavailable` (the client may retry);
    /// any other store failure is 500 `Internal`. Either way the cause goes to the log only.
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the store cannot take a write");
            return Self::new(
                ErrorCode::StoreUnavailable,
                "the configuration store cannot take a write now; nothing changed, try again",
            );
        }
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| status_of(self.code));
        let unauthorized = self.code == ErrorCode::Unauthorized;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if unauthorized {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
