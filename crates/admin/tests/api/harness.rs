//! The admin API in process: the router that the binary serves, built the way the binary builds
//! it (a SQLite store, a master key and a token file in a temporary folder), called with
//! `tower::ServiceExt::oneshot` and no socket.

use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tlsedge_admin::AdminState;
use tlsedge_certs::MasterKey;
use tlsedge_store::{SqliteStore, Store};
use tower::ServiceExt;

use crate::certs::{pem_body_lines, Leaf};

/// The largest request body, as `[admin] max_body_bytes` defaults it (1 MiB).
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the stand-in data plane adds to `/metrics`.
pub(crate) const DATA_PLANE_METRIC: &str = "tlsedge_test_data_plane_sample 7";

/// One admin API over a store in a temporary folder (shared with its [`Admin::peer`]s).
pub(crate) struct Admin {
    router: axum::Router,
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
    /// The bearer token.
    pub(crate) token: String,
    dir: Arc<tempfile::TempDir>,
}

/// An answer: status, headers and the body as text.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    /// The body as JSON (a JSON string holding the text when it is not JSON, `null` when empty).
    pub(crate) fn json(&self) -> Value {
        if self.text.is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&self.text).unwrap_or(Value::String(self.text.clone()))
    }
}

impl Admin {
    /// A fresh API: empty store, new master key, new token.
    pub(crate) fn new() -> Admin {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("tlsedge.db")).unwrap());
        let master = Arc::new(MasterKey::load_or_create(&dir.path().join("master.key")).unwrap());
        let token = tlsedge_admin::load_or_create_token(&dir.path().join("admin.token")).unwrap();
        Admin::serving(store, master, token, Arc::new(dir))
    }

    /// An API over `store` (e.g. one that fails as a real backend can), with a fresh master
    /// key and token.
    pub(crate) fn over(store: Arc<dyn Store>) -> Admin {
        let dir = tempfile::tempdir().unwrap();
        let master = Arc::new(MasterKey::load_or_create(&dir.path().join("master.key")).unwrap());
        let token = tlsedge_admin::load_or_create_token(&dir.path().join("admin.token")).unwrap();
        Admin::serving(store, master, token, Arc::new(dir))
    }

    /// The admin API of another node on the same store, master key and token: its writes race
    /// this one's at the store (each node only queues its own).
    pub(crate) fn peer(&self) -> Admin {
        Admin::serving(
            self.store.clone(),
            self.master.clone(),
            self.token.clone(),
            self.dir.clone(),
        )
    }

    /// The router, built as the binary builds it.
    fn serving(
        store: Arc<dyn Store>,
        master: Arc<MasterKey>,
        token: String,
        dir: Arc<tempfile::TempDir>,
    ) -> Admin {
        let state = Arc::new(AdminState::new(
            store.clone(),
            master.clone(),
            token.clone(),
            MAX_BODY_BYTES,
            Arc::new(|out: &mut String| {
                out.push_str("# TYPE tlsedge_test_data_plane_sample gauge\n");
                out.push_str(DATA_PLANE_METRIC);
                out.push('\n');
            }),
            Arc::new(|_: &str, _: i64, _: i64| Vec::new()),
        ));
        Admin {
            router: tlsedge_admin::app(state),
            store,
            master,
            token,
            dir,
        }
    }

    /// One request with full control over the `Authorization` header and the body bytes.
    /// `path` is the whole path (`/api/v1/…`, `/healthz`).
    pub(crate) async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut req = http::Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let body = match body {
            Some(b) => {
                req = req
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(http::header::CONTENT_LENGTH, b.len());
                Body::from(b)
            }
            None => Body::empty(),
        };
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    /// An authorized call of `/api/v1{path}` with a JSON body.
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        let a = self
            .raw(method, &format!("/api/v1{path}"), Some(&auth), body)
            .await;
        (a.status, a.json())
    }

    /// Calls and asserts a 2xx status.
    pub(crate) async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&s),
            "{method} {path} -> {s}: {}",
            show(&v)
        );
        v
    }

    pub(crate) async fn upload_cert(&self, name: &str, cert: &Leaf) -> Value {
        let (s, v) = self
            .call(
                "POST",
                "/certificates",
                Some(upload_body(name, &cert.cert_pem, &cert.key_pem)),
            )
            .await;
        assert_eq!(s, 201, "upload {name}: {}", show(&v));
        v
    }

    /// Creates a domain whose origin these tests never reach.
    pub(crate) async fn add_domain(&self, name: &str) -> Value {
        let (s, v) = self
            .call(
                "POST",
                "/domains",
                Some(json!({"name": name, "origins": [{"address": "127.0.0.1", "http_port": 9}]})),
            )
            .await;
        assert_eq!(s, 201, "create {name}: {}", show(&v));
        v
    }

    pub(crate) async fn enable_https(&self, domain: &str, cert: &str) -> Value {
        self.ok(
            "PUT",
            &format!("/domains/{domain}/https"),
            Some(json!({"enabled": true, "certificate": cert})),
        )
        .await
    }

    /// The store's newest revision, read from the store itself.
    pub(crate) fn revision(&self) -> u64 {
        self.store.state().revision
    }

    /// Everything a write could touch, read two ways: the store's records (certificates with
    /// their sealed keys, private ones included, and domains with their HTTPS settings) at its
    /// revision, and the API's view of them (every certificate, every domain, every domain's
    /// HTTPS view).
    pub(crate) async fn snapshot(&self) -> Snapshot {
        let records = self.store.state();
        let domains = self.ok("GET", "/domains", None).await;
        let mut https = serde_json::Map::new();
        for d in domains["domains"].as_array().unwrap() {
            let name = d["name"].as_str().unwrap();
            https.insert(
                name.to_owned(),
                self.ok("GET", &format!("/domains/{name}/https"), None)
                    .await,
            );
        }
        let view = json!({
            "certificates": self.ok("GET", "/certificates", None).await,
            "domains": domains,
            "https": https,
        });
        Snapshot { records, view }
    }

    /// Sends a write that must be refused with `status`/`code`/`field` and checks that nothing
    /// it could touch changed, and that the refusal does not echo the private key it was sent.
    /// Returns the error body.
    pub(crate) async fn rejected(
        &self,
        what: &str,
        (method, path, body): (&str, &str, Option<Value>),
        status: u16,
        code: &str,
        field: Option<&str>,
    ) -> Value {
        let before = self.snapshot().await;
        let secrets = key_lines(body.as_ref());
        let got = self.call(method, path, body).await;
        assert_error(
            &format!("{what} ({method} {path})"),
            &got,
            status,
            code,
            field,
        );
        // (Messages may name a PEM label such as `PRIVATE KEY`; never the key's contents.)
        let text = got.1.to_string();
        for (i, line) in secrets.iter().enumerate() {
            assert!(
                !text.contains(line.as_str()),
                "{what}: the refusal echoes line {i} of the private key it was sent"
            );
        }
        self.unchanged(&before, &format!("{what}: refused with {code}"))
            .await;
        got.1
    }

    /// Asserts that the store and the API's view are what `before` recorded.
    pub(crate) async fn unchanged(&self, before: &Snapshot, what: &str) {
        let after = self.snapshot().await;
        // The records hold sealed keys only, but are not printed all the same.
        let (b, a) = (&before.records, &after.records);
        assert_eq!(
            b.revision, a.revision,
            "{what}, yet the store's revision moved"
        );
        assert!(
            b.certificates == a.certificates,
            "{what}, yet the store's certificates changed"
        );
        assert!(
            b.domains == a.domains,
            "{what}, yet the store's domains changed"
        );
        assert!(
            before.view == after.view,
            "{what}, yet the API shows a change\nbefore: {}\nafter:  {}",
            show(&before.view),
            show(&after.view)
        );
    }
}

/// The lines of a request's `key_pem` that are secret: long base64 lines that the request's
/// certificate (which carries the public key in the clear) does not also hold.
fn key_lines(body: Option<&Value>) -> Vec<String> {
    let text = |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_str);
    let Some(key) = text("key_pem") else {
        return Vec::new();
    };
    let cert = text("cert_pem").unwrap_or("");
    pem_body_lines(key)
        .into_iter()
        .filter(|l| l.len() >= 16 && !cert.contains(l.as_str()))
        .collect()
}

/// What [`Admin::snapshot`] records.
pub(crate) struct Snapshot {
    records: Arc<tlsedge_store::State>,
    view: Value,
}

pub(crate) fn upload_body(name: &str, cert_pem: &str, key_pem: &str) -> Value {
    json!({"name": name, "cert_pem": cert_pem, "key_pem": key_pem})
}

/// A JSON value for an assertion message, withheld when it holds a long base64 run (it could be
/// key material, which must never be printed).
pub(crate) fn show(v: &Value) -> String {
    tlsedge_testkit::withhold_key_material(&v.to_string())
}

/// Asserts the contract's error answer: `status`, and a body that is exactly
/// `{"error": {"code", "message", "field"?}}` with `code`, a non-empty message, and `field`
/// exactly as given (absent when `None`).
pub(crate) fn assert_error(
    what: &str,
    got: &(u16, Value),
    status: u16,
    code: &str,
    field: Option<&str>,
) {
    let (got_status, body) = got;
    let shown = show(body);
    assert_eq!(*got_status, status, "{what}: status (body {shown})");
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: the body is not a JSON object: {shown}"));
    assert_eq!(
        obj.keys().map(String::as_str).collect::<Vec<_>>(),
        ["error"],
        "{what}: the body must hold only \"error\": {shown}"
    );
    let err = obj["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: \"error\" is not an object: {shown}"));
    for k in err.keys() {
        assert!(
            ["code", "message", "field"].contains(&k.as_str()),
            "{what}: unexpected key {k:?} in the error: {shown}"
        );
    }
    assert_eq!(
        err.get("code"),
        Some(&json!(code)),
        "{what}: code ({shown})"
    );
    let message = err.get("message").and_then(Value::as_str).unwrap_or("");
    assert!(
        !message.trim().is_empty(),
        "{what}: empty message ({shown})"
    );
    assert_eq!(
        err.get("field"),
        field.map(|f| json!(f)).as_ref(),
        "{what}: field ({shown})"
    );
}

/// Polls `f` until it returns `Some`, or panics after `deadline` with `what`.
pub(crate) async fn eventually<T, F, Fut>(deadline: std::time::Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
