//! Extractors that turn a request's parts into typed values, and every rejection into the
//! contract's error body (axum's own rejections are plain text).
//!
//! - [`ApiJson<T>`]: the body as `T`; a body over the limit is 413 `PayloadTooLarge`, JSON that
//!   does not decode is `InvalidRequest` (`InvalidDomain` for a bad domain name).
//! - [`Name<T>`]: the `{name}` path segment as a [`CertName`] or [`DomainName`]; a name that
//!   cannot exist is 404 `NotFound`, like a name that does not.
//! - [`ApiQuery<T>`]: the query string as `T`; one that does not parse is `InvalidRequest`.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use bytes::Bytes;
use http::request::Parts;
use serde::de::DeserializeOwned;
use tlsedge_model::{CertName, DomainName, ErrorCode, ValidationError};

use crate::error::ApiError;

/// A JSON request body decoded into `T`, refused in the contract's words.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let body = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&body).map(ApiJson)
    }
}

/// A query string decoded into `T` (`?expiring_within_days=soon` is `InvalidRequest`, not
/// axum's plain-text 400).
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(q) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(query_error)?;
        Ok(ApiQuery(q))
    }
}

/// The object name of a route's `{name}` segment.
pub(crate) struct Name<T>(pub(crate) T);

/// A name type that a path can carry.
pub(crate) trait PathName: Sized {
    /// What the name names, for "certificate \"x\" does not exist".
    const KIND: &'static str;
    /// Parses the decoded segment.
    fn parse(segment: &str) -> Result<Self, ValidationError>;
}

impl PathName for CertName {
    const KIND: &'static str = "certificate";
    fn parse(segment: &str) -> Result<Self, ValidationError> {
        CertName::parse(segment)
    }
}

impl PathName for DomainName {
    const KIND: &'static str = "domain";
    fn parse(segment: &str) -> Result<Self, ValidationError> {
        DomainName::parse(segment)
    }
}

impl<S: Send + Sync, T: PathName> FromRequestParts<S> for Name<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(segment) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("invalid path: {}", e.body_text()),
                )
            })?;
        // A name that cannot be valid names nothing that exists.
        T::parse(&segment)
            .map(Name)
            .map_err(|_| ApiError::not_found(T::KIND, &segment))
    }
}

/// A body that could not be read: over the limit (413), or cut short.
fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the limit",
        )
    } else {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("cannot read the request body: {e}"),
        )
    }
}

fn query_error(e: QueryRejection) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("invalid query string: {}", e.body_text()),
    )
}

/// Parses a JSON body into `T`, turning every failure into the contract's error shape: a
/// refusal by a model type (an invalid domain name, a domain rule, a redirect status) keeps its
/// code and field, anything else is `InvalidRequest`.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(json_error)
}

/// The contract's error for JSON that does not decode into the expected type. Call it right
/// after the failed `serde_json` call (see [`ValidationError::of_json`]).
pub(crate) fn json_error(e: serde_json::Error) -> ApiError {
    match ValidationError::of_json(&e) {
        Some(refusal) => ApiError::from(refusal),
        None => ApiError::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use axum::body::Body;
    use axum::extract::DefaultBodyLimit;
    use axum::routing::{get, put};
    use axum::Router;
    use http::StatusCode;
    use http_body_util::BodyExt;
    use tlsedge_api::{DeployRequest, ErrorBody};
    use tower::ServiceExt;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Days {
        #[allow(dead_code)]
        days: Option<u32>,
    }

    #[derive(serde::Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: DomainName,
    }

    /// A router of the extractors alone, with a 64-byte body limit.
    fn router() -> Router {
        Router::new()
            .route(
                "/domains/{name}",
                put(
                    |Name(n): Name<DomainName>, ApiJson(r): ApiJson<DeployRequest>| async move {
                        format!("{n} {}", r.domains.len())
                    },
                ),
            )
            .route(
                "/certificates/{name}",
                get(|Name(n): Name<CertName>, ApiQuery(_): ApiQuery<Days>| async move {
                    n.to_string()
                }),
            )
            .route(
                "/named",
                put(|ApiJson(_): ApiJson<Named>| async { "ok" }),
            )
            .layer(DefaultBodyLimit::max(64))
    }

    /// Status, and the contract's error body when the answer is not a success.
    async fn call(method: &str, uri: &str, body: &str) -> (StatusCode, Option<ErrorBody>, String) {
        let req = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = router().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (status, serde_json::from_slice(&bytes).ok(), text)
    }

    fn code(e: &Option<ErrorBody>) -> Option<(ErrorCode, Option<&str>)> {
        e.as_ref().map(|e| (e.error.code, e.error.field.as_deref()))
    }

    #[tokio::test]
    async fn typed_values_reach_the_handler() {
        let (s, _, text) = call("PUT", "/domains/a.example.com", r#"{"domains":["x"]}"#).await;
        assert_eq!((s, text.as_str()), (StatusCode::OK, "a.example.com 1"));
        let (s, _, text) = call("GET", "/certificates/c1?days=3", "").await;
        assert_eq!((s, text.as_str()), (StatusCode::OK, "c1"));
    }

    #[tokio::test]
    async fn a_name_that_cannot_exist_is_not_found() {
        let (s, e, _) = call("PUT", "/domains/a..b", r#"{"domains":[]}"#).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(code(&e), Some((ErrorCode::NotFound, None)));
        let (s, e, _) = call("GET", "/certificates/a%20b", "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(
            e.map(|e| e.error.message),
            Some("certificate \"a b\" does not exist".to_owned())
        );
    }

    #[tokio::test]
    async fn bodies_are_refused_in_the_contracts_words() {
        let big = format!(r#"{{"domains":["{}"]}}"#, "x".repeat(100));
        let (s, e, _) = call("PUT", "/domains/a.example.com", &big).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(code(&e), Some((ErrorCode::PayloadTooLarge, None)));

        let (s, e, _) = call("PUT", "/domains/a.example.com", "{not json").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(code(&e), Some((ErrorCode::InvalidRequest, None)));

        let (s, e, _) = call("PUT", "/domains/a.example.com", r#"{"domains":[],"x":1}"#).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(code(&e), Some((ErrorCode::InvalidRequest, None)));

        let (s, e, _) = call("PUT", "/named", r#"{"name":"a..b"}"#).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code(&e), Some((ErrorCode::InvalidDomain, Some("name"))));
    }

    #[tokio::test]
    async fn a_bad_query_is_an_invalid_request() {
        let (s, e, _) = call("GET", "/certificates/c1?days=soon", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(code(&e), Some((ErrorCode::InvalidRequest, None)));
    }
}
