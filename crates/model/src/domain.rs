use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ValidationError};
use crate::names::{CertName, DomainName};

/// How the edge reaches the origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OriginProtocol {
    /// Plain HTTP to the origin's `http_port`.
    #[default]
    Http,
    /// TLS to the origin's `https_port`.
    Https,
    /// The client's scheme: HTTP for HTTP requests, HTTPS for HTTPS requests.
    Follow,
}

/// Whether an origin takes traffic normally or only while no primary answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Takes traffic, shared among primaries by weight.
    #[default]
    Primary,
    /// Takes traffic only while no primary can be reached.
    Backup,
}

/// One origin server of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// Host name or IP address of the origin.
    pub address: String,
    /// Port for HTTP to the origin.
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    /// Port for HTTPS to the origin.
    #[serde(default = "default_https_port")]
    pub https_port: u16,
    /// `primary` or `backup`.
    #[serde(default)]
    pub priority: Priority,
    /// Share of traffic among the primaries (1 to 100).
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_http_port() -> u16 {
    80
}
fn default_https_port() -> u16 {
    443
}
fn default_weight() -> u32 {
    10
}
fn default_true() -> bool {
    true
}

/// What the edge does with a request that arrived on the "wrong" scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForceRedirect {
    /// Serve both schemes.
    #[default]
    Off,
    /// Redirect plain-HTTP requests to HTTPS.
    HttpToHttps,
    /// Redirect HTTPS requests to plain HTTP.
    HttpsToHttp,
    /// Refuse plain-HTTP requests with 403; serve HTTPS.
    DenyHttp,
}

/// A TLS protocol version a domain accepts. TLS 1.0 and 1.1 are never offered.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    /// Parses `"1.2"` or `"1.3"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "1.2" => Some(Self::Tls12),
            "1.3" => Some(Self::Tls13),
            _ => None,
        }
    }
}

/// HTTP Strict Transport Security, sent on HTTPS responses only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hsts {
    /// Whether the header is sent.
    #[serde(default)]
    pub enabled: bool,
    /// `max-age` in seconds.
    #[serde(default = "default_hsts_max_age")]
    pub max_age: u64,
    /// Adds `includeSubDomains`.
    #[serde(default)]
    pub include_subdomains: bool,
    /// Adds `preload`.
    #[serde(default)]
    pub preload: bool,
}

fn default_hsts_max_age() -> u64 {
    5_184_000
}

impl Default for Hsts {
    fn default() -> Self {
        Self {
            enabled: false,
            max_age: default_hsts_max_age(),
            include_subdomains: false,
            preload: false,
        }
    }
}

impl Hsts {
    /// The `Strict-Transport-Security` header value, when enabled.
    pub fn header_value(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let mut v = format!("max-age={}", self.max_age);
        if self.include_subdomains {
            v.push_str("; includeSubDomains");
        }
        if self.preload {
            v.push_str("; preload");
        }
        Some(v)
    }
}

/// A domain's HTTPS policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpsConfig {
    /// Whether the domain is served over TLS.
    #[serde(default)]
    pub enabled: bool,
    /// The certificate-center name of the certificate it serves.
    #[serde(default)]
    pub certificate: Option<CertName>,
    /// Forced redirect between schemes.
    #[serde(default)]
    pub force_redirect: ForceRedirect,
    /// 301, 302, 307 or 308.
    #[serde(default = "default_redirect_status")]
    pub redirect_status: u16,
    /// HSTS settings.
    #[serde(default)]
    pub hsts: Hsts,
    /// Whether ALPN offers `h2`.
    #[serde(default = "default_true")]
    pub http2: bool,
    /// Accepted TLS versions.
    #[serde(default = "default_tls_versions")]
    pub tls_versions: Vec<TlsVersion>,
}

fn default_redirect_status() -> u16 {
    301
}
fn default_tls_versions() -> Vec<TlsVersion> {
    vec![TlsVersion::Tls12, TlsVersion::Tls13]
}

impl Default for HttpsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            certificate: None,
            force_redirect: ForceRedirect::Off,
            redirect_status: default_redirect_status(),
            hsts: Hsts::default(),
            http2: true,
            tls_versions: default_tls_versions(),
        }
    }
}

impl HttpsConfig {
    /// Checks the rules that need nothing but this value, and normalises `tls_versions`
    /// (sorted, no duplicates).
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        if !matches!(self.redirect_status, 301 | 302 | 307 | 308) {
            return Err(ValidationError::invalid(
                "redirect_status",
                "redirect_status must be 301, 302, 307 or 308",
            ));
        }
        self.tls_versions.sort();
        self.tls_versions.dedup();
        if self.tls_versions.is_empty() {
            return Err(ValidationError::invalid(
                "tls_versions",
                "tls_versions needs at least one of \"1.2\", \"1.3\"",
            ));
        }
        if self.enabled {
            if self.certificate.is_none() {
                return Err(ValidationError::invalid(
                    "certificate",
                    "enabling HTTPS needs a certificate",
                ));
            }
            if self.hsts.enabled && self.force_redirect == ForceRedirect::HttpsToHttp {
                return Err(ValidationError::invalid(
                    "hsts",
                    "HSTS cannot be combined with a redirect from HTTPS to HTTP: browsers would loop",
                ));
            }
        } else if self.force_redirect != ForceRedirect::Off
            && self.force_redirect != ForceRedirect::HttpsToHttp
            || self.hsts.enabled
        {
            return Err(ValidationError::new(
                ErrorCode::HttpsDependency,
                "enabled",
                "HTTPS cannot be off while force_redirect is http_to_https or deny_http, or HSTS is enabled",
            ));
        }
        Ok(())
    }
}

/// An accelerated domain: its name, its origins and its HTTPS policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Exact host or one-level wildcard.
    pub name: DomainName,
    /// At least one origin; at least one of them primary.
    pub origins: Vec<Origin>,
    /// `http`, `https` or `follow`.
    #[serde(default)]
    pub origin_protocol: OriginProtocol,
    /// Host header sent to the origin (default: the client's).
    #[serde(default)]
    pub origin_host: Option<String>,
    /// SNI of the origin handshake (default: `origin_host`, else the address).
    #[serde(default)]
    pub origin_sni: Option<String>,
    /// Whether the origin's certificate is verified.
    #[serde(default = "default_true")]
    pub origin_verify_tls: bool,
    /// PEM CAs trusted for the origin (default: the system's roots).
    #[serde(default)]
    pub origin_ca_pem: Option<String>,
    /// The HTTPS policy.
    #[serde(default)]
    pub https: HttpsConfig,
}

impl DomainConfig {
    /// Checks every rule that needs nothing but this value. Rules that involve other objects
    /// (the certificate exists and covers the name) are the admin API's.
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        if self.origins.is_empty() {
            return Err(ValidationError::invalid(
                "origins",
                "a domain needs at least one origin",
            ));
        }
        if self.origins.len() > 64 {
            return Err(ValidationError::invalid("origins", "at most 64 origins"));
        }
        for o in &mut self.origins {
            o.address = o.address.trim().to_owned();
            if !valid_host_or_ip(&o.address) {
                return Err(ValidationError::invalid(
                    "origins",
                    format!("invalid origin address {:?}", o.address),
                ));
            }
            if o.http_port == 0 || o.https_port == 0 {
                return Err(ValidationError::invalid(
                    "origins",
                    "origin ports must be 1 to 65535",
                ));
            }
            if !(1..=100).contains(&o.weight) {
                return Err(ValidationError::invalid(
                    "origins",
                    "origin weight must be 1 to 100",
                ));
            }
        }
        if !self.origins.iter().any(|o| o.priority == Priority::Primary) {
            return Err(ValidationError::invalid(
                "origins",
                "at least one origin must be primary",
            ));
        }
        if let Some(h) = &self.origin_host {
            let host = crate::names::host_of(h);
            if !valid_host_or_ip(host) {
                return Err(ValidationError::invalid(
                    "origin_host",
                    format!("invalid origin_host {h:?}"),
                ));
            }
        }
        if let Some(s) = &self.origin_sni {
            if !valid_host_or_ip(s) {
                return Err(ValidationError::invalid(
                    "origin_sni",
                    format!("invalid origin_sni {s:?}"),
                ));
            }
        }
        if let Some(ca) = &self.origin_ca_pem {
            if !ca.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ValidationError::new(
                    ErrorCode::InvalidPem,
                    "origin_ca_pem",
                    "origin_ca_pem holds no PEM certificate",
                ));
            }
        }
        self.https.validate()
    }
}

/// A host name (letters, digits, `-`, `.`) or an IP address (v4, or v6 with or without brackets).
fn valid_host_or_ip(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if unbracketed.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(json: serde_json::Value) -> Result<DomainConfig, String> {
        let mut d: DomainConfig = serde_json::from_value(json).map_err(|e| e.to_string())?;
        d.validate().map_err(|e| format!("{:?}", e.code))?;
        Ok(d)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let d = domain(
            serde_json::json!({"name": "www.example.com", "origins": [{"address": "10.0.0.5"}]}),
        )
        .unwrap();
        assert_eq!(d.origins[0].http_port, 80);
        assert_eq!(d.origins[0].https_port, 443);
        assert_eq!(d.origins[0].priority, Priority::Primary);
        assert_eq!(d.origin_protocol, OriginProtocol::Http);
        assert!(d.origin_verify_tls);
        assert!(!d.https.enabled);
        assert_eq!(d.https.redirect_status, 301);
        assert_eq!(d.https.hsts.max_age, 5_184_000);
        assert!(d.https.http2);
        assert_eq!(
            d.https.tls_versions,
            vec![TlsVersion::Tls12, TlsVersion::Tls13]
        );
    }

    #[test]
    fn rejects_bad_domains() {
        let base =
            |o: serde_json::Value| serde_json::json!({"name": "a.example.com", "origins": o});
        assert!(domain(base(serde_json::json!([]))).is_err());
        assert!(domain(base(serde_json::json!([{"address": "a b"}]))).is_err());
        assert!(domain(base(
            serde_json::json!([{"address": "x.test", "priority": "backup"}])
        ))
        .is_err());
        assert!(domain(base(
            serde_json::json!([{"address": "x.test", "weight": 0}])
        ))
        .is_err());
        assert!(
            domain(serde_json::json!({"name": "a..b", "origins": [{"address": "x.test"}]}))
                .is_err()
        );
        assert!(domain(serde_json::json!({"name": "a.example.com", "origins": [{"address": "x.test"}], "bogus": 1})).is_err());
    }

    #[test]
    fn https_rules() {
        let mut h = HttpsConfig {
            redirect_status: 303,
            ..Default::default()
        };
        assert_eq!(
            h.validate().unwrap_err().field.as_deref(),
            Some("redirect_status")
        );
        let mut h = HttpsConfig {
            force_redirect: ForceRedirect::HttpToHttps,
            ..Default::default()
        };
        assert_eq!(h.validate().unwrap_err().code, ErrorCode::HttpsDependency);
        let mut h = HttpsConfig {
            force_redirect: ForceRedirect::DenyHttp,
            ..Default::default()
        };
        assert_eq!(h.validate().unwrap_err().code, ErrorCode::HttpsDependency);
        let mut h = HttpsConfig::default();
        h.hsts.enabled = true;
        assert_eq!(h.validate().unwrap_err().code, ErrorCode::HttpsDependency);
        let mut h = HttpsConfig {
            enabled: true,
            ..Default::default()
        };
        assert_eq!(
            h.validate().unwrap_err().field.as_deref(),
            Some("certificate")
        );
        let mut h = HttpsConfig {
            enabled: true,
            certificate: Some(CertName::parse("c").unwrap()),
            tls_versions: vec![TlsVersion::Tls13, TlsVersion::Tls12, TlsVersion::Tls13],
            ..Default::default()
        };
        h.validate().unwrap();
        assert_eq!(h.tls_versions, vec![TlsVersion::Tls12, TlsVersion::Tls13]);
        h.tls_versions.clear();
        assert!(h.validate().is_err());
    }

    #[test]
    fn hsts_header() {
        let h = Hsts {
            enabled: true,
            max_age: 10,
            include_subdomains: true,
            preload: true,
        };
        assert_eq!(
            h.header_value().unwrap(),
            "max-age=10; includeSubDomains; preload"
        );
        assert_eq!(Hsts::default().header_value(), None);
    }
}
