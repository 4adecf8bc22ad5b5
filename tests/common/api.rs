//! The admin API client of the tests: raw calls that return status and JSON, and the few
//! steps most tests repeat (upload a certificate, add a domain, enable HTTPS, wait until applied).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::ca::Leaf;
use super::eventually;

pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    /// Calls and asserts a 2xx status.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!((200..300).contains(&s), "{method} {path} -> {s}: {v}");
        v
    }

    pub async fn upload_cert(&self, name: &str, cert: &Leaf) -> Value {
        self.ok(
            "POST",
            "/certificates",
            Some(json!({"name": name, "cert_pem": cert.cert_pem, "key_pem": cert.key_pem})),
        )
        .await
    }

    pub async fn add_domain(&self, name: &str, origin: SocketAddr) -> Value {
        self.ok(
            "POST",
            "/domains",
            Some(json!({"name": name, "origins": [{"address": origin.ip().to_string(), "http_port": origin.port(), "https_port": origin.port()}]})),
        )
        .await
    }

    pub async fn enable_https(&self, domain: &str, cert: &str, extra: Value) -> Value {
        let mut body = json!({"enabled": true, "certificate": cert});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.ok("PUT", &format!("/domains/{domain}/https"), Some(body))
            .await
    }

    /// Waits until every node listed by `/nodes` has applied the store's newest revision (not
    /// just the first one to get there).
    pub async fn wait_applied(&self) {
        eventually(
            Duration::from_secs(5),
            "every node applied revision",
            || async {
                let v = self.ok("GET", "/nodes", None).await;
                let rev = v["revision"].as_u64()?;
                let nodes = v["nodes"].as_array()?;
                let all = !nodes.is_empty()
                    && nodes
                        .iter()
                        .all(|n| n["applied_revision"].as_u64().is_some_and(|a| a >= rev));
                all.then_some(())
            },
        )
        .await
    }
}
