//! A domain's HTTPS policy: forced redirects and their status, HSTS, HTTP/2 and TLS versions.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ErrorCode, ValidationError};
use crate::names::CertName;

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

/// The status of a forced redirect between schemes: 301 (the default), 302, 307 or 308. On the
/// wire and in the store it is the number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RedirectStatus {
    /// 301 Moved Permanently.
    #[default]
    MovedPermanently,
    /// 302 Found.
    Found,
    /// 307 Temporary Redirect (keeps the method and body).
    TemporaryRedirect,
    /// 308 Permanent Redirect (keeps the method and body).
    PermanentRedirect,
}

impl RedirectStatus {
    /// The status code.
    pub const fn as_u16(self) -> u16 {
        match self {
            Self::MovedPermanently => 301,
            Self::Found => 302,
            Self::TemporaryRedirect => 307,
            Self::PermanentRedirect => 308,
        }
    }

    /// The redirect status of a code; `None` unless it is 301, 302, 307 or 308.
    pub const fn from_u16(code: u16) -> Option<Self> {
        match code {
            301 => Some(Self::MovedPermanently),
            302 => Some(Self::Found),
            307 => Some(Self::TemporaryRedirect),
            308 => Some(Self::PermanentRedirect),
            _ => None,
        }
    }

    /// The refusal of a code that is not a redirect status (field `redirect_status`).
    pub fn refusal() -> ValidationError {
        ValidationError::invalid(
            "redirect_status",
            "redirect_status must be 301, 302, 307 or 308",
        )
    }
}

impl TryFrom<u16> for RedirectStatus {
    type Error = ValidationError;

    fn try_from(code: u16) -> Result<Self, ValidationError> {
        Self::from_u16(code).ok_or_else(Self::refusal)
    }
}

impl std::fmt::Display for RedirectStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_u16())
    }
}

impl Serialize for RedirectStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.as_u16())
    }
}

impl<'de> Deserialize<'de> for RedirectStatus {
    /// A number; any other than 301, 302, 307 and 308 is refused on the field
    /// `redirect_status` (see [`ValidationError::of_json`]).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u16::deserialize(d)?;
        Self::try_from(code).map_err(ValidationError::carry)
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
    #[serde(default)]
    #[schema(value_type = u16, example = 301)]
    pub redirect_status: RedirectStatus,
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

fn default_tls_versions() -> Vec<TlsVersion> {
    vec![TlsVersion::Tls12, TlsVersion::Tls13]
}

impl Default for HttpsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            certificate: None,
            force_redirect: ForceRedirect::Off,
            redirect_status: RedirectStatus::default(),
            hsts: Hsts::default(),
            http2: true,
            tls_versions: default_tls_versions(),
        }
    }
}

impl HttpsConfig {
    /// Checks the rules that need nothing but this value, and normalises `tls_versions`
    /// (sorted, no duplicates). The redirect status needs no check: [`RedirectStatus`] holds
    /// only the four allowed values.
    pub fn validate(&mut self) -> Result<(), ValidationError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn https_rules() {
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
            force_redirect: ForceRedirect::HttpsToHttp,
            ..Default::default()
        };
        h.hsts.enabled = true;
        assert_eq!(h.validate().unwrap_err().field.as_deref(), Some("hsts"));
        let mut h = HttpsConfig {
            enabled: true,
            certificate: Some(CertName::parse("c").unwrap()),
            tls_versions: vec![TlsVersion::Tls13, TlsVersion::Tls12, TlsVersion::Tls13],
            ..Default::default()
        };
        h.validate().unwrap();
        assert_eq!(h.tls_versions, vec![TlsVersion::Tls12, TlsVersion::Tls13]);
        h.tls_versions.clear();
        assert_eq!(
            h.validate().unwrap_err().field.as_deref(),
            Some("tls_versions")
        );
    }

    #[test]
    fn redirect_status_is_one_of_four_numbers() {
        for (code, status) in [
            (301, RedirectStatus::MovedPermanently),
            (302, RedirectStatus::Found),
            (307, RedirectStatus::TemporaryRedirect),
            (308, RedirectStatus::PermanentRedirect),
        ] {
            assert_eq!(RedirectStatus::from_u16(code), Some(status));
            assert_eq!(status.as_u16(), code);
            assert_eq!(serde_json::to_string(&status).unwrap(), code.to_string());
            assert_eq!(
                serde_json::from_str::<RedirectStatus>(&code.to_string()).unwrap(),
                status
            );
        }
        assert_eq!(RedirectStatus::default().as_u16(), 301);
        for bad in [300, 303, 304, 0] {
            let e = serde_json::from_str::<RedirectStatus>(&bad.to_string()).unwrap_err();
            let v = ValidationError::of_json(&e).unwrap();
            assert_eq!(
                (v.code, v.field.as_deref()),
                (ErrorCode::InvalidRequest, Some("redirect_status"))
            );
        }
        // Text is a shape error, with no field.
        let e = serde_json::from_str::<RedirectStatus>("\"301\"").unwrap_err();
        assert_eq!(ValidationError::of_json(&e), None);
        let h: HttpsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(serde_json::to_value(&h).unwrap()["redirect_status"], 301);
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
