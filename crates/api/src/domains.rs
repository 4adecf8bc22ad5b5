//! Requests and answers of the domain calls (`/domains`, `/domains/{name}/https`), and the one
//! merge of HTTPS settings.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use tlsedge_model::{
    CertName, CertificateInfo, DomainConfig, ForceRedirect, Hsts, HttpsConfig, RedirectStatus,
    TlsVersion,
};

/// `GET /domains`: `{"domains": [DomainConfig…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainList {
    /// The domains, by name.
    pub domains: Vec<DomainConfig>,
}

/// `GET` and `PUT /domains/{name}/https` answer: the HTTPS settings plus the public view of the
/// certificate they name (`null` when none, or when it no longer exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HttpsView {
    /// The settings (flattened into this object).
    #[serde(flatten)]
    pub https: HttpsConfig,
    /// The certificate `certificate` names.
    pub certificate_info: Option<CertificateInfo>,
}

/// `PUT /domains/{name}/https`: a change of a domain's HTTPS settings. A field left out keeps
/// its current value, so `{"enabled": false}` alone keeps the redirect and HSTS settings (and
/// is refused while they need HTTPS); `hsts` merges the same way one level down.
///
/// `cert_pem` + `key_pem` upload a certificate private to the domain; it becomes the
/// domain's certificate and, unless `enabled` is given, HTTPS is turned on. `null` is accepted
/// where a value may be absent (`certificate`, `cert_pem`, `key_pem`) and refused elsewhere.
/// `Debug` redacts `key_pem`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpsPatch {
    /// Serve the domain over TLS.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled: Option<bool>,
    /// `Some(None)` (JSON `null`) forgets the certificate; `None` keeps it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub certificate: Option<Option<CertName>>,
    /// Forced redirect between schemes.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub force_redirect: Option<ForceRedirect>,
    /// 301, 302, 307 or 308.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u16>)]
    pub redirect_status: Option<RedirectStatus>,
    /// HSTS fields to change.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub hsts: Option<HstsPatch>,
    /// Offer `h2` in ALPN.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub http2: Option<bool>,
    /// Accepted TLS versions.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_versions: Option<Vec<TlsVersion>>,
    /// A PEM chain to upload as the domain's private certificate (needs `key_pem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    /// The unencrypted PEM key of `cert_pem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pem: Option<String>,
}

impl fmt::Debug for HttpsPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsPatch")
            .field("enabled", &self.enabled)
            .field("certificate", &self.certificate)
            .field("force_redirect", &self.force_redirect)
            .field("redirect_status", &self.redirect_status)
            .field("hsts", &self.hsts)
            .field("http2", &self.http2)
            .field("tls_versions", &self.tls_versions)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The HSTS part of an [`HttpsPatch`]: a field left out keeps its current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HstsPatch {
    /// Send the header.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled: Option<bool>,
    /// `max-age` in seconds.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_age: Option<u64>,
    /// Add `includeSubDomains`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub include_subdomains: Option<bool>,
    /// Add `preload`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub preload: Option<bool>,
}

/// A field that is present is `Some` of its value: JSON `null` reaches `T`'s own
/// deserialization (an error for a `bool`, `None` for an `Option`). Absent fields are `None`
/// through `#[serde(default)]`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl HttpsPatch {
    /// The settings `current` becomes with this patch: every field given replaces its value,
    /// the rest is kept. `cert_pem`/`key_pem` are not settings and are not applied here; the
    /// result is not validated (see [`HttpsConfig::validate`]).
    pub fn apply(&self, current: &HttpsConfig) -> HttpsConfig {
        let mut https = current.clone();
        if let Some(enabled) = self.enabled {
            https.enabled = enabled;
        }
        if let Some(certificate) = &self.certificate {
            https.certificate = certificate.clone();
        }
        if let Some(force_redirect) = self.force_redirect {
            https.force_redirect = force_redirect;
        }
        if let Some(status) = self.redirect_status {
            https.redirect_status = status;
        }
        if let Some(hsts) = &self.hsts {
            https.hsts = hsts.apply(&https.hsts);
        }
        if let Some(http2) = self.http2 {
            https.http2 = http2;
        }
        if let Some(versions) = &self.tls_versions {
            https.tls_versions = versions.clone();
        }
        https
    }

    /// Whether the patch changes nothing and uploads nothing.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

impl HstsPatch {
    /// The HSTS settings `current` becomes with this patch.
    pub fn apply(&self, current: &Hsts) -> Hsts {
        Hsts {
            enabled: self.enabled.unwrap_or(current.enabled),
            max_age: self.max_age.unwrap_or(current.max_age),
            include_subdomains: self
                .include_subdomains
                .unwrap_or(current.include_subdomains),
            preload: self.preload.unwrap_or(current.preload),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: serde_json::Value) -> Result<HttpsPatch, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    fn current() -> HttpsConfig {
        HttpsConfig {
            enabled: true,
            certificate: Some(CertName::parse("old").unwrap()),
            force_redirect: ForceRedirect::HttpToHttps,
            redirect_status: RedirectStatus::PermanentRedirect,
            hsts: Hsts {
                enabled: true,
                max_age: 100,
                include_subdomains: true,
                preload: false,
            },
            http2: true,
            tls_versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
        }
    }

    #[test]
    fn an_empty_patch_keeps_everything() {
        let p = patch(json!({})).unwrap();
        assert!(p.is_empty());
        assert_eq!(p.apply(&current()), current());
    }

    #[test]
    fn given_fields_replace_and_hsts_merges_one_level_down() {
        let p = patch(json!({"enabled": false, "hsts": {"max_age": 5}, "tls_versions": ["1.3"]}))
            .unwrap();
        let h = p.apply(&current());
        assert!(!h.enabled);
        assert_eq!(
            h.hsts,
            Hsts {
                max_age: 5,
                ..current().hsts
            }
        );
        assert_eq!(h.tls_versions, vec![TlsVersion::Tls13]);
        assert_eq!(h.certificate, current().certificate);
        assert_eq!(h.force_redirect, ForceRedirect::HttpToHttps);
        assert_eq!(h.redirect_status, RedirectStatus::PermanentRedirect);
    }

    #[test]
    fn null_forgets_the_certificate_and_is_refused_for_settings() {
        let p = patch(json!({"certificate": null})).unwrap();
        assert_eq!(p.certificate, Some(None));
        assert_eq!(p.apply(&current()).certificate, None);
        let p = patch(json!({"certificate": "new"})).unwrap();
        assert_eq!(
            p.apply(&current())
                .certificate
                .as_ref()
                .map(CertName::as_str),
            Some("new")
        );
        for bad in [
            json!({"enabled": null}),
            json!({"hsts": null}),
            json!({"hsts": {"preload": null}}),
            json!({"tls_versions": null}),
            json!({"bogus": 1}),
            json!({"hsts": {"bogus": 1}}),
            json!({"force_redirect": "sometimes"}),
        ] {
            assert!(patch(bad.clone()).is_err(), "{bad}");
        }
        let p = patch(json!({"cert_pem": null, "key_pem": null})).unwrap();
        assert!(p.is_empty());
    }

    #[test]
    fn a_patch_serialises_only_what_it_changes() {
        let p = HttpsPatch {
            enabled: Some(true),
            certificate: Some(Some(CertName::parse("c1").unwrap())),
            force_redirect: Some(ForceRedirect::DenyHttp),
            hsts: Some(HstsPatch {
                max_age: Some(600),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"enabled": true, "certificate": "c1", "force_redirect": "deny_http", "hsts": {"max_age": 600}})
        );
        let forget = HttpsPatch {
            certificate: Some(None),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&forget).unwrap(),
            json!({"certificate": null})
        );
    }

    #[test]
    fn the_debug_output_has_no_key() {
        let p = HttpsPatch {
            key_pem: Some("-----BEGIN PRIVATE KEY-----".into()),
            ..Default::default()
        };
        let text = format!("{p:?}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn the_https_view_reads_back_what_the_server_writes() {
        let v = json!({
            "enabled": false, "certificate": null, "force_redirect": "off", "redirect_status": 301,
            "hsts": {"enabled": false, "max_age": 5184000, "include_subdomains": false, "preload": false},
            "http2": true, "tls_versions": ["1.2", "1.3"], "certificate_info": null
        });
        let view: HttpsView = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(view.https, HttpsConfig::default());
        assert_eq!(view.certificate_info, None);
        assert_eq!(serde_json::to_value(&view).unwrap(), v);
    }
}
