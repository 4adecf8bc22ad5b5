//! The admin API's JSON bodies into their types (`tlsedge_api` requests,
//! `tlsedge_model::DomainConfig`, the HTTPS patch), as the server decodes them.
//!
//! Properties: nothing panics, including the mapping of a refusal to the contract's error
//! (`ValidationError::of_json`); an accepted domain configuration survives a JSON round trip
//! unchanged; a patch applied twice is the patch applied once, and what it yields is still a
//! valid policy once checked; the `Debug` of a request never prints its private key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use tlsedge_api::{
    CsrRequest, DeployRequest, DomainNames, HstsPatch, HttpsPatch, ReplaceRequest, UploadRequest,
};
use tlsedge_model::{DomainConfig, HttpsConfig, RawDomainConfig, ValidationError};

/// Decodes as the admin API does; a refusal is mapped to its contract error.
fn decode<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    match serde_json::from_slice(data) {
        Ok(v) => Some(v),
        Err(e) => {
            if let Some(v) = ValidationError::of_json(&e) {
                let _ = v.to_string();
            }
            None
        }
    }
}

/// Asserts that `dbg` does not print `key` (when it is long enough to be told apart and does
/// not occur in the other fields).
fn redacted(dbg: &str, key: &str, others: &str) {
    let quoted = format!("{key:?}");
    let inner = &quoted[1..quoted.len() - 1];
    if inner.len() >= 16 && !others.contains(inner) && !"<redacted>".contains(inner) {
        assert!(!dbg.contains(inner), "Debug prints the private key: {dbg}");
    }
}

fn round_trip(d: &DomainConfig) {
    let json = serde_json::to_vec(d).unwrap_or_default();
    let back: Option<DomainConfig> = serde_json::from_slice(&json).ok();
    assert_eq!(back.as_ref(), Some(d), "DomainConfig JSON round trip");
}

fuzz_target!(|data: &[u8]| {
    if let Some(d) = decode::<DomainConfig>(data) {
        round_trip(&d);
    }
    if let Some(raw) = decode::<RawDomainConfig>(data) {
        if let Ok(d) = DomainConfig::try_from(raw) {
            round_trip(&d);
        }
    }
    if let Some(mut h) = decode::<HttpsConfig>(data) {
        if h.validate().is_ok() {
            let json = serde_json::to_vec(&h).unwrap_or_default();
            let mut back: Option<HttpsConfig> = serde_json::from_slice(&json).ok();
            if let Some(b) = back.as_mut() {
                assert!(
                    b.validate().is_ok(),
                    "a checked policy is refused after a round trip"
                );
            }
            assert_eq!(back.as_ref(), Some(&h), "HttpsConfig JSON round trip");
        }
    }
    if let Some(p) = decode::<HttpsPatch>(data) {
        let base = HttpsConfig::default();
        let once = p.apply(&base);
        assert_eq!(
            p.apply(&once),
            once,
            "a patch applied twice differs from once"
        );
        let mut checked = once.clone();
        let _ = checked.validate();
        let _ = p.is_empty();
        if let Some(key) = &p.key_pem {
            let others = HttpsPatch {
                key_pem: None,
                ..p.clone()
            };
            redacted(&format!("{p:?}"), key, &format!("{others:?}"));
        }
    }
    if let Some(p) = decode::<HstsPatch>(data) {
        let _ = p.apply(&Default::default());
    }
    if let Some(r) = decode::<UploadRequest>(data) {
        let others = UploadRequest {
            key_pem: String::new(),
            ..r.clone()
        };
        redacted(&format!("{r:?}"), &r.key_pem, &format!("{others:?}"));
    }
    if let Some(r) = decode::<ReplaceRequest>(data) {
        if let Some(key) = &r.key_pem {
            let others = ReplaceRequest {
                key_pem: None,
                ..r.clone()
            };
            redacted(&format!("{r:?}"), key, &format!("{others:?}"));
        }
    }
    let _ = decode::<DeployRequest>(data);
    let _ = decode::<DomainNames>(data);
    let _ = decode::<CsrRequest>(data);
});
