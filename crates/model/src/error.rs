use serde::{Deserialize, Serialize};

/// The error codes of the public contract (`shared/spec/api.md`). One code names one kind of
/// refusal; the HTTP status is chosen from it in exactly one place (the admin API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Input that is not PEM, or PEM whose contents do not parse as a certificate or key.
    InvalidPem,
    /// A well-formed object of a kind tlsedge does not serve (e.g. a DSA key).
    UnsupportedFormat,
    /// The private key does not belong to the leaf certificate.
    KeyMismatch,
    /// The private key is encrypted with a passphrase.
    EncryptedKey,
    /// The leaf certificate's `notAfter` is in the past.
    CertificateExpired,
    /// The leaf certificate's `notBefore` is in the future.
    CertificateNotYetValid,
    /// The certificate's SANs do not cover a domain it was to be bound to.
    DomainNotCovered,
    /// A domain name that is not an exact host name or a one-level wildcard.
    InvalidDomain,
    /// A certificate that a domain still serves cannot be deleted.
    CertificateInUse,
    /// HTTPS cannot be disabled while a redirect to HTTPS, `deny_http` or HSTS depends on it.
    HttpsDependency,
    /// No such object.
    NotFound,
    /// An object of that name exists already.
    AlreadyExists,
    /// Missing or wrong bearer token.
    Unauthorized,
    /// The request body is larger than the limit.
    PayloadTooLarge,
    /// Anything else wrong with the request: a bad field, bad JSON, a bad value.
    InvalidRequest,
    /// The server failed; nothing the client did.
    Internal,
    /// The configuration store cannot take a write now (busy, read-only or full disk, out of
    /// reach); nothing changed, and the same request may succeed later (503).
    StoreUnavailable,
}

impl ErrorCode {
    /// The name of the code as it appears in API responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidPem => "InvalidPem",
            Self::UnsupportedFormat => "UnsupportedFormat",
            Self::KeyMismatch => "KeyMismatch",
            Self::EncryptedKey => "EncryptedKey",
            Self::CertificateExpired => "CertificateExpired",
            Self::CertificateNotYetValid => "CertificateNotYetValid",
            Self::DomainNotCovered => "DomainNotCovered",
            Self::InvalidDomain => "InvalidDomain",
            Self::CertificateInUse => "CertificateInUse",
            Self::HttpsDependency => "HttpsDependency",
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::Unauthorized => "Unauthorized",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::InvalidRequest => "InvalidRequest",
            Self::Internal => "Internal",
            Self::StoreUnavailable => "StoreUnavailable",
        }
    }
}

/// A refused input: which rule, a message for a person, and the field it concerns.
///
/// Messages never quote key material: they describe what is wrong, not the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The contract's error code.
    pub code: ErrorCode,
    /// A sentence for a person.
    pub message: String,
    /// The JSON field the error concerns, when there is one.
    pub field: Option<String>,
}

impl ValidationError {
    /// An error with a code, a message and the field it concerns.
    pub fn new(
        code: ErrorCode,
        field: impl Into<Option<&'static str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            field: field.into().map(str::to_owned),
        }
    }

    /// An `InvalidRequest` error on a field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, field, message)
    }
}

thread_local! {
    /// The refusal most recently raised inside a deserializer on this thread (see
    /// [`ValidationError::carry`]).
    static CARRIED: std::cell::RefCell<Option<ValidationError>> =
        const { std::cell::RefCell::new(None) };
}

impl ValidationError {
    /// Turns a refusal raised while deserializing (an invalid domain name, a redirect status
    /// that is not 301/302/307/308, a domain that breaks a rule) into the deserializer's error,
    /// and keeps the refusal (code and field) so that [`of_json`](Self::of_json) can get it back.
    ///
    /// A serde error holds only a message; this is how the contract's error code crosses it.
    pub fn carry<E: serde::de::Error>(self) -> E {
        let err = E::custom(&self.message);
        CARRIED.with(|c| *c.borrow_mut() = Some(self));
        err
    }

    /// The refusal behind a JSON error that one of the model's types raised while it was being
    /// deserialized on this thread, with its code and field. `None` for every other JSON error
    /// (syntax, a missing field, a wrong type, an unknown field): those are `InvalidRequest`.
    ///
    /// Call it right after the failed `serde_json` call, on the same thread.
    pub fn of_json(err: &serde_json::Error) -> Option<ValidationError> {
        let carried = CARRIED.with(|c| c.borrow_mut().take())?;
        // The error that surfaced must be the one carried: a refusal that serde recovered from
        // (and a later, different error) must not lend its code.
        err.to_string()
            .starts_with(&carried.message)
            .then_some(carried)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_carried_refusal_is_found_only_behind_its_own_error() {
        let e = serde_json::from_str::<crate::DomainName>("\"a..b\"").unwrap_err();
        let v = ValidationError::of_json(&e).unwrap();
        assert_eq!(v.code, ErrorCode::InvalidDomain);
        assert_eq!(v.field.as_deref(), Some("name"));
        assert!(v.message.starts_with("invalid domain name \"a..b\""));
        // Taken once.
        assert_eq!(ValidationError::of_json(&e), None);

        // A refusal carried and then followed by another error does not lend its code.
        let _ = serde_json::from_str::<crate::DomainName>("\"a..b\"").unwrap_err();
        let other = serde_json::from_str::<u16>("\"x\"").unwrap_err();
        assert_eq!(ValidationError::of_json(&other), None);
    }
}
