//! An accelerated domain: its name, its origins and how the edge reaches them, and its HTTPS
//! policy ([`crate::HttpsConfig`]).
//!
//! A [`DomainConfig`] exists only checked: it is built from a [`RawDomainConfig`] (what the
//! API and the CLI send) by `TryFrom`, and its `Deserialize` goes through that same conversion,
//! so whatever deserializes a domain (the admin API, the store, `tlsedge import`) has run every
//! rule that needs nothing but the value itself.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ErrorCode, ValidationError};
use crate::host::{Authority, Host};
use crate::https::HttpsConfig;
use crate::names::DomainName;

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

/// One origin server of a domain, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Origin {
    /// Host name or IP address of the origin.
    pub address: Host,
    /// Port for HTTP to the origin (1 to 65535).
    pub http_port: u16,
    /// Port for HTTPS to the origin (1 to 65535).
    pub https_port: u16,
    /// `primary` or `backup`.
    pub priority: Priority,
    /// Share of traffic among the primaries (1 to 100).
    pub weight: u32,
}

/// One origin as sent, before its checks: the contract's JSON with its defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrigin {
    /// Host name or IP address of the origin (surrounding spaces are dropped).
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

impl RawOrigin {
    /// An origin at `address` with the contract's defaults (ports 80 and 443, primary,
    /// weight 10).
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            http_port: default_http_port(),
            https_port: default_https_port(),
            priority: Priority::default(),
            weight: default_weight(),
        }
    }
}

impl TryFrom<RawOrigin> for Origin {
    type Error = ValidationError;

    /// Refuses (on the field `origins`) an address that is neither a host name nor an IP
    /// address, a port 0, and a weight outside 1 to 100.
    fn try_from(raw: RawOrigin) -> Result<Self, ValidationError> {
        let trimmed = raw.address.trim();
        let address = Host::parse(trimmed).ok_or_else(|| {
            ValidationError::invalid("origins", format!("invalid origin address {trimmed:?}"))
        })?;
        if raw.http_port == 0 || raw.https_port == 0 {
            return Err(ValidationError::invalid(
                "origins",
                "origin ports must be 1 to 65535",
            ));
        }
        if !(1..=100).contains(&raw.weight) {
            return Err(ValidationError::invalid(
                "origins",
                "origin weight must be 1 to 100",
            ));
        }
        Ok(Self {
            address,
            http_port: raw.http_port,
            https_port: raw.https_port,
            priority: raw.priority,
            weight: raw.weight,
        })
    }
}

impl From<Origin> for RawOrigin {
    fn from(o: Origin) -> Self {
        Self {
            address: o.address.as_str().to_owned(),
            http_port: o.http_port,
            https_port: o.https_port,
            priority: o.priority,
            weight: o.weight,
        }
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::try_from(RawOrigin::deserialize(d)?).map_err(ValidationError::carry)
    }
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

/// An accelerated domain: its name, its origins and its HTTPS policy, checked.
///
/// Build one with `DomainConfig::try_from(RawDomainConfig)` or by deserializing (which does
/// the same); both run every rule that needs nothing but this value. Rules that involve other
/// objects (the certificate exists and covers the name) are the admin API's. The fields are
/// public to read; to change the HTTPS policy use [`with_https`](Self::with_https), which checks
/// it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DomainConfig {
    /// Exact host or one-level wildcard.
    pub name: DomainName,
    /// 1 to 64 origins; at least one of them primary.
    pub origins: Vec<Origin>,
    /// `http`, `https` or `follow`.
    pub origin_protocol: OriginProtocol,
    /// Host header sent to the origin (default: the client's).
    pub origin_host: Option<Authority>,
    /// SNI of the origin handshake (default: `origin_host`, else the address).
    pub origin_sni: Option<Host>,
    /// Whether the origin's certificate is verified.
    pub origin_verify_tls: bool,
    /// PEM CAs trusted for the origin (default: the system's roots).
    pub origin_ca_pem: Option<String>,
    /// The HTTPS policy.
    pub https: HttpsConfig,
    /// Proof that the value went through [`TryFrom<RawDomainConfig>`]: it cannot be built
    /// outside this crate.
    #[serde(skip)]
    #[schema(ignore)]
    checked: Checked,
}

/// See [`DomainConfig::checked`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Checked;

/// A domain as sent (the contract's DomainConfig JSON, with its defaults), before its checks.
/// The CLI builds one to send; the API turns it into a [`DomainConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDomainConfig {
    /// Exact host or one-level wildcard.
    pub name: DomainName,
    /// The origins.
    pub origins: Vec<RawOrigin>,
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

impl TryFrom<RawDomainConfig> for DomainConfig {
    type Error = ValidationError;

    /// Checks every rule that needs nothing but this value, in the order the contract's errors
    /// are reported: origins (1 to 64, each valid, one primary), `origin_host`, `origin_sni`,
    /// `origin_ca_pem`, then the HTTPS policy (whose `tls_versions` it normalises).
    fn try_from(raw: RawDomainConfig) -> Result<Self, ValidationError> {
        if raw.origins.is_empty() {
            return Err(ValidationError::invalid(
                "origins",
                "a domain needs at least one origin",
            ));
        }
        if raw.origins.len() > 64 {
            return Err(ValidationError::invalid("origins", "at most 64 origins"));
        }
        let origins = raw
            .origins
            .into_iter()
            .map(Origin::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        if !origins.iter().any(|o| o.priority == Priority::Primary) {
            return Err(ValidationError::invalid(
                "origins",
                "at least one origin must be primary",
            ));
        }
        let origin_host = raw
            .origin_host
            .map(|h| {
                Authority::parse(&h).ok_or_else(|| {
                    ValidationError::invalid("origin_host", format!("invalid origin_host {h:?}"))
                })
            })
            .transpose()?;
        let origin_sni = raw
            .origin_sni
            .map(|s| {
                Host::parse(&s).ok_or_else(|| {
                    ValidationError::invalid("origin_sni", format!("invalid origin_sni {s:?}"))
                })
            })
            .transpose()?;
        if let Some(ca) = &raw.origin_ca_pem {
            if !ca.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ValidationError::new(
                    ErrorCode::InvalidPem,
                    "origin_ca_pem",
                    "origin_ca_pem holds no PEM certificate",
                ));
            }
        }
        let mut https = raw.https;
        https.validate()?;
        Ok(Self {
            name: raw.name,
            origins,
            origin_protocol: raw.origin_protocol,
            origin_host,
            origin_sni,
            origin_verify_tls: raw.origin_verify_tls,
            origin_ca_pem: raw.origin_ca_pem,
            https,
            checked: Checked,
        })
    }
}

impl From<DomainConfig> for RawDomainConfig {
    fn from(d: DomainConfig) -> Self {
        Self {
            name: d.name,
            origins: d.origins.into_iter().map(RawOrigin::from).collect(),
            origin_protocol: d.origin_protocol,
            origin_host: d.origin_host.map(|h| h.as_str().to_owned()),
            origin_sni: d.origin_sni.map(|s| s.as_str().to_owned()),
            origin_verify_tls: d.origin_verify_tls,
            origin_ca_pem: d.origin_ca_pem,
            https: d.https,
        }
    }
}

impl<'de> Deserialize<'de> for DomainConfig {
    /// Deserializing is checking: a refusal keeps its code and field (see
    /// [`ValidationError::of_json`]).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::try_from(RawDomainConfig::deserialize(d)?).map_err(ValidationError::carry)
    }
}

impl DomainConfig {
    /// This domain with another HTTPS policy, checked (and its `tls_versions` normalised) as
    /// when the domain is built.
    pub fn with_https(mut self, mut https: HttpsConfig) -> Result<Self, ValidationError> {
        https.validate()?;
        self.https = https;
        Ok(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::https::{RedirectStatus, TlsVersion};
    use serde_json::json;

    /// Deserializes a domain; a refusal as (code, field).
    fn domain(v: serde_json::Value) -> Result<DomainConfig, (ErrorCode, Option<String>)> {
        serde_json::from_value(v).map_err(|e| {
            ValidationError::of_json(&e)
                .map_or((ErrorCode::InvalidRequest, None), |v| (v.code, v.field))
        })
    }

    #[test]
    fn defaults_follow_the_contract() {
        let d = domain(json!({"name": "www.example.com", "origins": [{"address": "10.0.0.5"}]}))
            .unwrap();
        assert_eq!(d.origins[0].address.as_str(), "10.0.0.5");
        assert_eq!(d.origins[0].http_port, 80);
        assert_eq!(d.origins[0].https_port, 443);
        assert_eq!(d.origins[0].priority, Priority::Primary);
        assert_eq!(d.origins[0].weight, 10);
        assert_eq!(d.origin_protocol, OriginProtocol::Http);
        assert!(d.origin_verify_tls);
        assert!(!d.https.enabled);
        assert_eq!(d.https.redirect_status, RedirectStatus::MovedPermanently);
        assert_eq!(d.https.hsts.max_age, 5_184_000);
        assert!(d.https.http2);
        assert_eq!(
            d.https.tls_versions,
            vec![TlsVersion::Tls12, TlsVersion::Tls13]
        );
    }

    #[test]
    fn json_round_trips_unchanged() {
        let sent = json!({
            "name": "www.example.com",
            "origins": [
                {"address": "[::1]", "http_port": 8080, "https_port": 8443, "priority": "primary", "weight": 5},
                {"address": "Backup.Internal", "http_port": 80, "https_port": 443, "priority": "backup", "weight": 10}
            ],
            "origin_protocol": "follow",
            "origin_host": "backend.internal:8080",
            "origin_sni": "backend.internal",
            "origin_verify_tls": false,
            "origin_ca_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "https": {"enabled": false, "certificate": null, "force_redirect": "https_to_http",
                      "redirect_status": 308,
                      "hsts": {"enabled": false, "max_age": 5184000, "include_subdomains": false, "preload": false},
                      "http2": true, "tls_versions": ["1.2", "1.3"]}
        });
        let d = domain(sent.clone()).unwrap();
        assert_eq!(serde_json::to_value(&d).unwrap(), sent);
        let raw = RawDomainConfig::from(d.clone());
        assert_eq!(serde_json::to_value(&raw).unwrap(), sent);
        assert_eq!(DomainConfig::try_from(raw).unwrap(), d);
    }

    #[test]
    fn address_is_trimmed() {
        let d = domain(json!({"name": "a.example.com", "origins": [{"address": " 10.0.0.5 "}]}))
            .unwrap();
        assert_eq!(d.origins[0].address.as_str(), "10.0.0.5");
    }

    #[test]
    fn every_rule_refuses_with_its_code_and_field() {
        let base = |extra: serde_json::Value| {
            let mut v = json!({"name": "a.example.com", "origins": [{"address": "x.test"}]});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        let origins = |o: serde_json::Value| base(json!({ "origins": o }));
        let invalid = |f: &str| Err((ErrorCode::InvalidRequest, Some(f.to_owned())));
        let many: Vec<serde_json::Value> = (0..65).map(|_| json!({"address": "x.test"})).collect();
        let cases = [
            (origins(json!([])), invalid("origins")),
            (origins(json!(many)), invalid("origins")),
            (origins(json!([{"address": "a b"}])), invalid("origins")),
            (origins(json!([{"address": ""}])), invalid("origins")),
            (
                origins(json!([{"address": "x.test", "http_port": 0}])),
                invalid("origins"),
            ),
            (
                origins(json!([{"address": "x.test", "https_port": 0}])),
                invalid("origins"),
            ),
            (
                origins(json!([{"address": "x.test", "weight": 0}])),
                invalid("origins"),
            ),
            (
                origins(json!([{"address": "x.test", "weight": 101}])),
                invalid("origins"),
            ),
            (
                origins(json!([{"address": "x.test", "priority": "backup"}])),
                invalid("origins"),
            ),
            (base(json!({"origin_host": "a b"})), invalid("origin_host")),
            (
                base(json!({"origin_host": "a.test:x"})),
                invalid("origin_host"),
            ),
            (
                base(json!({"origin_sni": "a.test:443"})),
                invalid("origin_sni"),
            ),
            (
                base(json!({"origin_ca_pem": "nope"})),
                Err((ErrorCode::InvalidPem, Some("origin_ca_pem".to_owned()))),
            ),
            (
                base(json!({"https": {"redirect_status": 303}})),
                invalid("redirect_status"),
            ),
            (
                base(json!({"https": {"tls_versions": []}})),
                invalid("tls_versions"),
            ),
            (
                base(json!({"https": {"enabled": true}})),
                invalid("certificate"),
            ),
            (
                base(json!({"https": {"hsts": {"enabled": true}}})),
                Err((ErrorCode::HttpsDependency, Some("enabled".to_owned()))),
            ),
            (
                json!({"name": "a..b", "origins": [{"address": "x.test"}]}),
                Err((ErrorCode::InvalidDomain, Some("name".to_owned()))),
            ),
            // Shape errors carry no field.
            (
                base(json!({"bogus": 1})),
                Err((ErrorCode::InvalidRequest, None)),
            ),
            (
                origins(json!([{"address": "x.test", "colour": "red"}])),
                Err((ErrorCode::InvalidRequest, None)),
            ),
            (
                base(json!({"https": {"redirect_status": "301"}})),
                Err((ErrorCode::InvalidRequest, None)),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(domain(input.clone()).map(|_| ()), expected, "{input}");
        }
    }

    #[test]
    fn with_https_checks_again() {
        let d =
            domain(json!({"name": "a.example.com", "origins": [{"address": "x.test"}]})).unwrap();
        let mut https = d.https.clone();
        https.enabled = true;
        assert_eq!(
            d.clone().with_https(https).unwrap_err().field.as_deref(),
            Some("certificate")
        );
        let https = HttpsConfig {
            tls_versions: vec![TlsVersion::Tls13, TlsVersion::Tls13],
            ..Default::default()
        };
        assert_eq!(
            d.with_https(https).unwrap().https.tls_versions,
            [TlsVersion::Tls13]
        );
    }
}
