//! The data plane's one authority per request (`crates/edge/src/authority.rs`): the request
//! target, HTTP/2's `:authority` and the `Host` fields a client sends.
//!
//! Input: one byte choosing the version (HTTP/1.0, 1.1, 2), then lines: the request target,
//! then one `Host` field per line.
//! Properties: nothing panics; two `Host` fields or userinfo are always refused; in HTTP/1.x an
//! absolute-form target's authority wins over `Host`; an origin-form request's authority is its
//! one `Host`, unchanged.
#![no_main]

use http::header::HOST;
use http::{HeaderValue, Request, Version};
use libfuzzer_sys::fuzz_target;
use tlsedge_edge::fuzz_authority_of;

fuzz_target!(|data: &[u8]| {
    let Some((&v, rest)) = data.split_first() else {
        return;
    };
    let version = match v % 3 {
        0 => Version::HTTP_10,
        1 => Version::HTTP_11,
        _ => Version::HTTP_2,
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let mut builder = Request::builder().version(version).uri(target);
    let mut hosts = Vec::new();
    for line in lines {
        let Ok(value) = HeaderValue::from_bytes(line) else {
            return;
        };
        hosts.push(value.clone());
        builder = builder.header(HOST, value);
    }
    let Ok(req) = builder.body(()) else {
        return;
    };
    let got = fuzz_authority_of(&req);
    let target_authority = req.uri().authority().map(|a| a.as_str().to_owned());

    if hosts.len() > 1 {
        assert_eq!(got, None, "two Host fields accepted");
    }
    if target_authority.as_deref().is_some_and(|a| a.contains('@')) {
        assert_eq!(got, None, "userinfo accepted");
    }
    let Some(got) = got else {
        return;
    };
    match target_authority {
        Some(a) if version != Version::HTTP_2 => {
            assert_eq!(got.as_bytes(), a.as_bytes(), "absolute form did not win");
        }
        Some(_) => {}
        None => assert_eq!(Some(&got), hosts.first(), "Host not used as written"),
    }
});
