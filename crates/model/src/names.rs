use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ErrorCode, ValidationError};

/// An accelerated domain name: an exact host (`www.example.com`) or a one-level wildcard
/// (`*.example.com`). Stored in lowercase, without a trailing dot.
///
/// A wildcard matches exactly one more label: `*.example.com` matches `a.example.com`, not
/// `a.b.example.com` nor `example.com`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "www.example.com")]
pub struct DomainName(String);

impl DomainName {
    /// Parses and normalises a domain name: the one place where the API, the CLI, `import` and
    /// the data plane's Host matching turn text into a name. A name in Unicode
    /// (`bücher.example`) becomes its A-label form (`xn--bcher-kva.example`) by UTS 46
    /// processing, as browsers do; case is folded and a trailing dot dropped.
    ///
    /// Errors: `InvalidDomain` (field `name`) for a name that is not valid IDNA, not an exact
    /// host name or a one-level wildcard, or too long (253 characters, 63 a label, counted in
    /// A-labels).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| {
            ValidationError::new(
                ErrorCode::InvalidDomain,
                "name",
                format!("invalid domain name {input:?}: {why}"),
            )
        };
        let trimmed = input.trim_end_matches('.');
        let (star, rest) = match trimmed.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", trimmed),
        };
        // UTS 46 (non-transitional, the URL standard's deny list). Plain ASCII that it refuses
        // (a '_', a space) is left to the host-name rules below, which say why; a Unicode name
        // or an A-label it refuses is not a valid internationalized name.
        let lower = match idna::domain_to_ascii_cow(rest.as_bytes(), idna::AsciiDenyList::URL) {
            Ok(ascii) => format!("{star}{}", ascii.to_ascii_lowercase()),
            Err(_) if rest.is_ascii() && !rest.to_ascii_lowercase().contains("xn--") => {
                trimmed.to_ascii_lowercase()
            }
            Err(_) => return Err(bad("not a valid internationalized domain name (UTS 46)")),
        };
        if lower.is_empty() {
            return Err(bad("empty"));
        }
        if lower.len() > 253 {
            return Err(bad("longer than 253 characters"));
        }
        let (wildcard, rest) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() < 2 {
            return Err(bad(if wildcard {
                "a wildcard needs at least two labels after '*.'"
            } else {
                "needs at least two labels"
            }));
        }
        for label in &labels {
            if label.is_empty() {
                return Err(bad("empty label"));
            }
            if label.len() > 63 {
                return Err(bad("label longer than 63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(bad(
                    "only letters, digits, '-' and a leading '*.' are allowed",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label cannot start or end with '-'"));
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("an IP address is not a domain name"));
        }
        Ok(Self(lower))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a one-level wildcard (`*.example.com`).
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// The part after `*.` of the one-level wildcard that would match `host` (lowercase, no
    /// port): `a.example.com` → `example.com`. `None` when no wildcard can match it (fewer than
    /// three labels, or an empty first label). Lookups try the exact host first and this
    /// second, so an exact name wins; the data plane keys its wildcards by this part.
    pub fn wildcard_parent(host: &str) -> Option<&str> {
        let (label, parent) = host.split_once('.')?;
        (!label.is_empty() && parent.contains('.')).then_some(parent)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DomainName {
    /// Parses as [`DomainName::parse`]; a refusal keeps its `InvalidDomain` code (see
    /// [`ValidationError::of_json`]).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(ValidationError::carry)
    }
}

/// The host of an authority (`host`, `host:port`, `[v6]`, `[v6]:port`), without the port. A
/// bare IPv6 address is returned whole.
pub fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.find(']').map_or(authority, |i| &authority[..=i]);
    }
    match authority.rsplit_once(':') {
        Some((host, port))
            if !host.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        _ => authority,
    }
}

/// Whether a certificate SAN (`dNSName`) covers a domain name.
///
/// An exact SAN covers only the same name. A wildcard SAN `*.example.com` covers the one-level
/// names under it and the wildcard domain `*.example.com` itself. A wildcard domain is covered
/// only by the same wildcard SAN, since it answers for every name under it.
pub fn san_covers(san: &str, domain: &DomainName) -> bool {
    let san = san.trim_end_matches('.').to_ascii_lowercase();
    if san == domain.as_str() {
        return true;
    }
    if domain.is_wildcard() {
        return false;
    }
    match san.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') => domain
            .as_str()
            .strip_suffix(suffix)
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        _ => false,
    }
}

/// The name of a certificate in the certificate center: 1 to 128 characters of letters, digits,
/// `.`, `_` and `-`, so it is safe in a URL path and a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "example-com-2026")]
pub struct CertName(String);

impl CertName {
    /// Parses a certificate name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let ok = !input.is_empty()
            && input.len() <= 128
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !input.starts_with('.');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(ValidationError::invalid(
                "name",
                format!("invalid certificate name {input:?}: use 1 to 128 letters, digits, '.', '_' or '-'"),
            ))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CertName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    #[test]
    fn unicode_names_become_a_labels() {
        for (input, want) in [
            ("b\u{fc}cher.example", "xn--bcher-kva.example"),
            ("B\u{dc}CHER.Example.", "xn--bcher-kva.example"),
            ("*.b\u{fc}cher.example", "*.xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("b\u{fc}cher\u{3002}example", "xn--bcher-kva.example"),
        ] {
            assert_eq!(
                DomainName::parse(input).unwrap().as_str(),
                want,
                "{input:?}"
            );
        }
        for input in [
            "xn--a-ecp.example",
            "\u{301}a.example",
            "a\u{e000}.example",
            "xn--bcher-kva-.example",
        ] {
            let e = DomainName::parse(input).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidDomain, "{input:?}");
            assert_eq!(e.field.as_deref(), Some("name"), "{input:?}");
        }
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(d("WWW.Example.COM.").as_str(), "www.example.com");
        assert!(d("*.example.com").is_wildcard());
        for bad in [
            "",
            "com",
            "*.com",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "*.*.a.com",
            "a.*.com",
            "1.2.3.4",
        ] {
            let err = DomainName::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidDomain, "{bad}");
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64))).is_err());
        // Issue 13: a Unicode name is accepted as its A-label (was refused).
        assert_eq!(d("é.com").as_str(), "xn--9ca.com");
    }

    #[test]
    fn wildcard_matches_one_label_only() {
        assert_eq!(
            DomainName::wildcard_parent("a.example.com"),
            Some("example.com")
        );
        assert_ne!(
            DomainName::wildcard_parent("a.b.example.com"),
            Some("example.com")
        );
        assert_eq!(DomainName::wildcard_parent("example.com"), None);
        assert_eq!(DomainName::wildcard_parent(".example.com"), None);
    }

    #[test]
    fn host_without_port() {
        assert_eq!(host_of("www.example.com:8080"), "www.example.com");
        assert_eq!(host_of("www.example.com"), "www.example.com");
        assert_eq!(host_of("[::1]:443"), "[::1]");
        assert_eq!(host_of("::1"), "::1");
        assert_eq!(host_of("10.0.0.5:80"), "10.0.0.5");
        assert_eq!(host_of("a.test:x"), "a.test:x");
    }

    #[test]
    fn san_coverage() {
        assert!(san_covers("www.example.com", &d("www.example.com")));
        assert!(san_covers("*.example.com", &d("www.example.com")));
        assert!(san_covers("*.example.com", &d("*.example.com")));
        assert!(!san_covers("*.example.com", &d("a.b.example.com")));
        assert!(!san_covers("*.example.com", &d("example.com")));
        assert!(!san_covers("a.example.com", &d("*.example.com")));
        assert!(!san_covers("example.com", &d("www.example.com")));
    }

    #[test]
    fn cert_names() {
        assert!(CertName::parse("example-com_2026.v1").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(129)] {
            assert_eq!(
                CertName::parse(bad).unwrap_err().code,
                ErrorCode::InvalidRequest
            );
        }
    }
}
