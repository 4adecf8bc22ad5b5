//! Certificate and key intake: what `POST /api/v1/certificates`, `PUT .../{name}`, a domain's
//! private certificate and `tlsedge import` accept from a stranger.
//!
//! Input: the chain PEM, a NUL byte, the key PEM (no NUL: the same text is tried as both).
//! Properties: nothing panics; an accepted upload re-validates from its normalised chain with
//! its key to the same facts, and loads as a rustls `CertifiedKey` (what the data plane serves);
//! a refusal never quotes base64 text of the input (key material or PEM).
#![no_main]

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use tlsedge_certs::{certified_key, validate_upload, validate_with_key};
use tlsedge_model::CertChain;

/// A fixed "now" (2027-06-01T00:00:00Z) so a crash reproduces whatever the day; the seed
/// certificates are valid then.
const NOW_UNIX: i64 = 1_811_808_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (cert_pem, key_pem) = text.split_once('\0').unwrap_or((text, text));
    let Ok(now) = OffsetDateTime::from_unix_timestamp(NOW_UNIX) else {
        return;
    };

    // The stored form of a chain is read back by every node: it must not panic either.
    let chain = CertChain::from_pem(cert_pem);
    let _ = chain.der();

    match validate_upload(cert_pem, key_pem, now) {
        Ok(v) => {
            let again = validate_with_key(&v.cert_pem, &v.key, now)
                .unwrap_or_else(|e| panic!("normalised chain refused on re-validation: {e}"));
            assert_eq!(again.cert_pem, v.cert_pem, "normalising is not idempotent");
            assert_eq!(again.meta.not_after, v.meta.not_after);
            assert_eq!(again.meta.sans, v.meta.sans);
            if let Err(e) = certified_key(&v.chain, &v.key) {
                panic!("accepted certificate cannot be served: {e}");
            }
        }
        Err(e) => {
            let message = e.to_string();
            for line in cert_pem.lines().chain(key_pem.lines()) {
                let line = line.trim();
                let base64 = line.len() >= 24
                    && line
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
                assert!(
                    !(base64 && message.contains(line)),
                    "refusal quotes the input's base64 text: {message}"
                );
            }
        }
    }
});
