use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
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
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            code: e.code,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut err = serde_json::json!({"code": self.code.as_str(), "message": self.message});
        if let (Some(f), Some(obj)) = (self.field, err.as_object_mut()) {
            obj.insert("field".into(), f.into());
        }
        let mut resp = (
            status_of(self.code),
            axum::Json(serde_json::json!({ "error": err })),
        )
            .into_response();
        if self.code == ErrorCode::Unauthorized {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// Parses a JSON body into `T`, turning every failure into the contract's error shape: an
/// invalid domain name into `InvalidDomain`, anything else into `InvalidRequest`.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(json_error)
}

/// The contract's error for JSON that does not decode into the expected type.
pub(crate) fn json_error(e: serde_json::Error) -> ApiError {
    let msg = e.to_string();
    if msg.starts_with("invalid domain name") {
        ApiError::new(ErrorCode::InvalidDomain, msg).field("name")
    } else {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("invalid JSON body: {msg}"),
        )
    }
}
