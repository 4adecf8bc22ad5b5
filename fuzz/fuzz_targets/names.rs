//! Domain names, certificate names, hosts and authorities: what a stranger writes in a `Host`
//! header, an SNI, a URL path segment, a JSON body or a CLI argument.
//!
//! Properties: nothing panics; every parser's accepted value re-parses to itself (and through
//! JSON); a domain name is lowercase, without a trailing dot, at most 253 characters, and is
//! covered by itself as a SAN; `host_of` returns a prefix of its input; a parsed `HOST[:PORT]`
//! has a port from 1 to 65535 and re-parses from its written form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsedge_model::{host_of, san_covers, Authority, CertName, DomainName, Host, HostPort};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(d) = DomainName::parse(s) {
        let name = d.as_str();
        assert_eq!(
            DomainName::parse(name).ok().as_ref(),
            Some(&d),
            "not idempotent"
        );
        assert!(name.len() <= 253, "longer than 253: {name:?}");
        assert!(!name.ends_with('.'), "trailing dot kept: {name:?}");
        assert!(
            !name.bytes().any(|b| b.is_ascii_uppercase()),
            "not lowercase: {name:?}"
        );
        assert!(
            san_covers(name, &d),
            "a name does not cover itself: {name:?}"
        );
        let json = serde_json::to_string(&d).unwrap_or_default();
        let back: Option<DomainName> = serde_json::from_str(&json).ok();
        assert_eq!(back.as_ref(), Some(&d), "JSON round trip");
        let _ = DomainName::wildcard_parent(name);
    }
    let _ = DomainName::wildcard_parent(s);

    if let Ok(c) = CertName::parse(s) {
        assert_eq!(CertName::parse(c.as_str()).ok().as_ref(), Some(&c));
    }

    let h = host_of(s);
    assert!(s.starts_with(h), "host_of({s:?}) = {h:?} is not a prefix");

    if let Some(host) = Host::parse(s) {
        assert_eq!(Host::parse(host.as_str()).as_ref(), Some(&host));
        let _ = host.ip();
    }

    if let Some(a) = Authority::parse(s) {
        assert!(
            Host::parse(a.host()).is_some(),
            "authority {s:?} has host {:?} that is not a host",
            a.host()
        );
    }

    if let Ok(hp) = HostPort::parse(s, 443) {
        assert_ne!(hp.port, 0);
        let host = hp.host.as_str();
        let written = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", hp.port)
        } else {
            format!("{host}:{}", hp.port)
        };
        assert_eq!(
            HostPort::parse(&written, 443).as_ref(),
            Ok(&hp),
            "{s:?} parsed to {hp:?}, whose written form {written:?} does not"
        );
    }
});
