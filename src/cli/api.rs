//! The HTTP client of the admin API: one authenticated call, typed request and answer, and a
//! refusal read back as the API's own [`ErrorCode`].

use std::fmt;
use std::time::Duration;

use anyhow::{anyhow, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tlsedge_api::ErrorBody;
use tlsedge_model::{ErrorCode, ValidationError};

/// The whole time one API call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to the admin API; a node that is up accepts at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A refusal by the admin API (or a local check that mirrors one), shown as
/// `Code: message (field f)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status of the answer; 0 for a check made before sending.
    pub(crate) status: u16,
    /// The contract's error code; `None` when the answer carried no error body (a proxy's
    /// page, an older or newer server), shown then as `HTTP <status>`.
    pub(crate) code: Option<ErrorCode>,
    /// The API's sentence.
    pub(crate) message: String,
    /// The JSON field concerned.
    pub(crate) field: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{}: {}", code.as_str(), self.message)?,
            None => write!(f, "HTTP {}: {}", self.status, self.message)?,
        }
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            status: 0,
            code: Some(e.code),
            message: e.message,
            field: e.field,
        }
    }
}

impl ApiError {
    /// Reads an error answer: the contract's `{"error":{…}}` body, or whatever came instead
    /// (its first 300 characters, or the status's reason when it is empty).
    fn from_response(status: u16, reason: Option<&str>, body: &[u8]) -> Self {
        if let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) {
            return Self {
                status,
                code: Some(error.code),
                message: error.message,
                field: error.field,
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            reason.unwrap_or("no reason given").to_owned()
        } else {
            let mut t: String = text.chars().take(300).collect();
            if t.len() < text.len() {
                t.push('…');
            }
            t
        };
        Self {
            status,
            code: None,
            message,
            field: None,
        }
    }
}

/// Describes a failure to talk to the API at all, naming the URL.
fn transport_error(base: &str, e: &reqwest::Error) -> anyhow::Error {
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    if e.is_timeout() {
        anyhow!(
            "the admin API at {base} did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        )
    } else if e.is_connect() {
        anyhow!(
            "cannot connect to the admin API at {base}: {root} (is the node running, and are --admin / TLSEDGE_ADMIN_URL right?)"
        )
    } else {
        anyhow!("request to the admin API at {base} failed: {root}")
    }
}

/// Percent-encodes one path segment (names are checked by the API; this only keeps the URL
/// whole).
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'*') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An authenticated connection to one node's admin API. Not `Debug`: it holds the token.
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ApiClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:9180`, no trailing slash; found by
    /// [`resolve_endpoint`](super::endpoint::resolve_endpoint)) that authenticates with `token`.
    pub(crate) fn new(base: String, token: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("tlsedge-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self { http, base, token })
    }

    /// `GET` of `path` (below `/api/v1`), its answer as `T`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let bytes = self.send(self.request(reqwest::Method::GET, path)).await?;
        self.decode(&bytes)
    }

    /// `POST` of `body` as JSON, its answer as `T`.
    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let req = self.request(reqwest::Method::POST, path).json(body);
        let bytes = self.send(req).await?;
        self.decode(&bytes)
    }

    /// `PUT` of `body` as JSON, its answer as `T`.
    pub(crate) async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let req = self.request(reqwest::Method::PUT, path).json(body);
        let bytes = self.send(req).await?;
        self.decode(&bytes)
    }

    /// `DELETE`; the answer (204) has no body.
    pub(crate) async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send(self.request(reqwest::Method::DELETE, path))
            .await
            .map(drop)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/api/v1{path}", self.base);
        self.http.request(method, url).bearer_auth(&self.token)
    }

    /// Sends one call: a 2xx answer gives its body, anything else an [`ApiError`].
    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<bytes::Bytes> {
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        if !status.is_success() {
            return Err(ApiError::from_response(
                status.as_u16(),
                status.canonical_reason(),
                &bytes,
            )
            .into());
        }
        Ok(bytes)
    }

    fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> anyhow::Result<T> {
        serde_json::from_slice(body).map_err(|e| {
            anyhow!(
                "the admin API at {} answered with JSON this client cannot read: {e}",
                self.base
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let body = br#"{"error":{"code":"KeyMismatch","message":"the private key does not match the certificate","field":"key_pem"}}"#;
        let e = ApiError::from_response(422, Some("Unprocessable Entity"), body);
        assert_eq!(
            e.to_string(),
            "KeyMismatch: the private key does not match the certificate (field key_pem)"
        );
        assert_eq!((e.status, e.code), (422, Some(ErrorCode::KeyMismatch)));

        let body = br#"{"error":{"code":"NotFound","message":"no certificate named x"}}"#;
        assert_eq!(
            ApiError::from_response(404, None, body).to_string(),
            "NotFound: no certificate named x"
        );
        let body =
            br#"{"error":{"code":"NotFound","message":"no certificate named x","field":null}}"#;
        assert_eq!(
            ApiError::from_response(404, None, body).to_string(),
            "NotFound: no certificate named x"
        );

        // Without the contract's body there is no code: the status is not mapped back to one.
        let e = ApiError::from_response(401, Some("Unauthorized"), b"");
        assert_eq!(
            (e.code, e.to_string().as_str()),
            (None, "HTTP 401: Unauthorized")
        );
        assert_eq!(
            ApiError::from_response(502, Some("Bad Gateway"), b"").to_string(),
            "HTTP 502: Bad Gateway"
        );
        assert_eq!(
            ApiError::from_response(500, None, b"  upstream exploded\n").to_string(),
            "HTTP 500: upstream exploded"
        );
        let unknown = br#"{"error":{"code":"SomethingNew","message":"m"}}"#;
        assert!(ApiError::from_response(503, None, unknown)
            .to_string()
            .starts_with("HTTP 503: {"));
        let long = "x".repeat(1000);
        assert!(
            ApiError::from_response(500, None, long.as_bytes())
                .to_string()
                .chars()
                .count()
                < 320
        );
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("*.example.com"), "*.example.com");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }

    /// Answers one request on a loopback port with `response`, and hands back what was asked.
    async fn one_shot_server(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head and, when there is one, a body of Content-Length bytes.
            loop {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
            }
            s.write_all(response.as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
            String::from_utf8_lossy(&buf).to_string()
        });
        (url, task)
    }

    #[tokio::test]
    async fn calls_carry_the_token_and_errors_the_api_message() {
        let body = r#"{"error":{"code":"KeyMismatch","message":"the private key does not match the certificate","field":"key_pem"}}"#;
        let response: &'static str = Box::leak(
            format!(
                "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, server) = one_shot_server(response).await;
        let api = ApiClient::new(url.clone(), "tok".into()).unwrap();
        let e = api
            .post::<_, serde_json::Value>("/certificates", &serde_json::json!({"name": "c"}))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "KeyMismatch: the private key does not match the certificate (field key_pem)"
        );
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /api/v1/certificates HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("authorization: bearer tok\r\n"),
            "{request}"
        );
        assert!(request.ends_with(r#"{"name":"c"}"#), "{request}");
    }

    #[tokio::test]
    async fn success_and_empty_answers() {
        let (url, server) =
            one_shot_server("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        let api = ApiClient::new(url.clone(), "tok".into()).unwrap();
        api.delete("/domains/a.example.com").await.unwrap();
        assert!(server
            .await
            .unwrap()
            .starts_with("DELETE /api/v1/domains/a.example.com "));

        let (url, server) = one_shot_server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 19\r\nconnection: close\r\n\r\n{\"certificates\":[]}",
        )
        .await;
        let api = ApiClient::new(url.clone(), "tok".into()).unwrap();
        let v: tlsedge_api::CertificateList = api
            .get("/certificates?expiring_within_days=7")
            .await
            .unwrap();
        assert!(v.certificates.is_empty());
        assert!(server
            .await
            .unwrap()
            .starts_with("GET /api/v1/certificates?expiring_within_days=7 "));
    }

    #[tokio::test]
    async fn refused_connections_name_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}");
        let api = ApiClient::new(url.clone(), "tok".into()).unwrap();
        let e = api
            .get::<serde_json::Value>("/certificates")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("cannot connect to the admin API at {url}: ")),
            "{e}"
        );
    }
}
