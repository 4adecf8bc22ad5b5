//! `tlsedge domain …`: accelerated domains and their HTTPS settings through the admin API, and
//! how its answers read.

use serde::Serialize;
use time::OffsetDateTime;
use tlsedge_api::{DomainList, HttpsView};
use tlsedge_model::{
    CertificateInfo, DomainConfig, ForceRedirect, HttpsConfig, Origin, OriginProtocol, Priority,
};

use super::api::{path_segment, ApiClient};
use super::args::{build_domain, DomainCommand};
use super::read_pem;
use super::render::{
    join_or_dash, key_values, not_after_label, on_off, or_dash, print, table, wire_name, Output,
};
use super::Deleted;

/// Runs one `tlsedge domain …` command against `api` and prints its result.
pub(crate) async fn run(api: &ApiClient, cmd: DomainCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        DomainCommand::Add(args) => {
            let ca = match &args.origin_ca {
                Some(p) => Some(read_pem(p, "CA certificate")?),
                None => None,
            };
            let added = api.post("/domains", &build_domain(&args, ca)?).await?;
            print(&Added(added), json)
        }
        DomainCommand::List => {
            let list: DomainList = api.get("/domains").await?;
            print(&list, json)
        }
        DomainCommand::Show { name } => {
            let domain: DomainConfig = api
                .get(&format!("/domains/{}", path_segment(&name)))
                .await?;
            print(&domain, json)
        }
        DomainCommand::Https(args) => {
            let path = format!("/domains/{}/https", path_segment(&args.name));
            // The server merges the patch into the current settings; without options this
            // only shows them.
            let view: HttpsView = if args.changes_something() {
                let mut patch = args.patch();
                if let (Some(cert), Some(key)) = (&args.cert_file, &args.key_file) {
                    patch.cert_pem = Some(read_pem(cert, "certificate")?);
                    patch.key_pem = Some(read_pem(key, "key")?);
                }
                api.put(&path, &patch).await?
            } else {
                api.get(&path).await?
            };
            print(
                &HttpsShown {
                    domain: args.name,
                    view,
                },
                json,
            )
        }
        DomainCommand::Delete { name } => {
            api.delete(&format!("/domains/{}", path_segment(&name)))
                .await?;
            print(
                &Deleted {
                    what: "domain",
                    name,
                },
                json,
            )
        }
    }
}

/// The answer of `domain add`.
#[derive(Serialize)]
#[serde(transparent)]
struct Added(DomainConfig);

impl Output for Added {
    fn text(&self) -> String {
        format!("added domain {}\n{}", self.0.name, details(&self.0))
    }
}

impl Output for DomainConfig {
    fn text(&self) -> String {
        details(self)
    }
}

impl Output for DomainList {
    fn text(&self) -> String {
        if self.domains.is_empty() {
            "no domains".to_owned()
        } else {
            list_table(&self.domains)
        }
    }
}

/// The HTTPS settings of one domain (`domain https`).
#[derive(Serialize)]
#[serde(transparent)]
struct HttpsShown {
    #[serde(skip)]
    domain: String,
    view: HttpsView,
}

impl Output for HttpsShown {
    fn text(&self) -> String {
        let rows = https_rows(&self.view.https, self.view.certificate_info.as_ref());
        format!("HTTPS of {}\n{}", self.domain, key_values(&rows))
    }
}

/// `[::1]` for an IPv6 address, the host otherwise.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `host:port` of an origin for the domain's protocol (`host:80/443` when following the client).
fn origin_label(o: &Origin, protocol: OriginProtocol) -> String {
    let port = match protocol {
        OriginProtocol::Https => o.https_port.to_string(),
        OriginProtocol::Follow => format!("{}/{}", o.http_port, o.https_port),
        OriginProtocol::Http => o.http_port.to_string(),
    };
    let backup = if o.priority == Priority::Backup {
        " (backup)"
    } else {
        ""
    };
    format!("{}:{port}{backup}", bracket(o.address.as_str()))
}

/// The CLI's spelling of a redirect, with its status when one is sent.
fn redirect_label(mode: ForceRedirect, status: u16) -> String {
    match mode {
        ForceRedirect::Off => "off".to_owned(),
        ForceRedirect::DenyHttp => "deny-http".to_owned(),
        m => format!("{} {status}", wire_name(&m).replace('_', "-")),
    }
}

fn list_table(domains: &[DomainConfig]) -> String {
    let rows = domains
        .iter()
        .map(|d| {
            let origins: Vec<String> = d
                .origins
                .iter()
                .map(|o| origin_label(o, d.origin_protocol))
                .collect();
            vec![
                d.name.to_string(),
                on_off(d.https.enabled),
                or_dash(d.https.certificate.as_ref().map(|c| c.as_str())),
                redirect_label(d.https.force_redirect, d.https.redirect_status.as_u16()),
                join_or_dash(&origins),
            ]
        })
        .collect();
    table(
        &["NAME", "HTTPS", "CERTIFICATE", "REDIRECT", "ORIGINS"],
        rows,
    )
}

fn https_rows(h: &HttpsConfig, info: Option<&CertificateInfo>) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("https", on_off(h.enabled)),
        (
            "certificate",
            or_dash(h.certificate.as_ref().map(|c| c.as_str())),
        ),
    ];
    if let Some(meta) = info.and_then(|i| i.meta.as_ref()) {
        rows.push((
            "certificate expires",
            not_after_label(meta.not_after, OffsetDateTime::now_utc()),
        ));
    }
    let versions: Vec<String> = h.tls_versions.iter().map(wire_name).collect();
    rows.extend([
        (
            "force redirect",
            redirect_label(h.force_redirect, h.redirect_status.as_u16()),
        ),
        (
            "hsts",
            h.hsts.header_value().unwrap_or_else(|| "off".to_owned()),
        ),
        ("http2", on_off(h.http2)),
        ("tls versions", join_or_dash(&versions)),
    ]);
    rows
}

fn details(d: &DomainConfig) -> String {
    let origins: Vec<String> = d
        .origins
        .iter()
        .map(|o| {
            format!(
                "{} http {} https {} {} weight {}",
                bracket(o.address.as_str()),
                o.http_port,
                o.https_port,
                wire_name(&o.priority),
                o.weight
            )
        })
        .collect();
    let ca = d.origin_ca_pem.as_deref().map(|pem| {
        let n = pem.matches("-----BEGIN CERTIFICATE-----").count();
        format!("{n} custom CA certificate{}", if n == 1 { "" } else { "s" })
    });
    let mut rows = vec![
        ("name", d.name.to_string()),
        (
            "origins",
            if origins.is_empty() {
                "-".to_owned()
            } else {
                origins.join("\n")
            },
        ),
        ("origin protocol", wire_name(&d.origin_protocol)),
        (
            "origin host",
            or_dash(d.origin_host.as_ref().map(|h| h.as_str())),
        ),
        (
            "origin sni",
            or_dash(d.origin_sni.as_ref().map(|h| h.as_str())),
        ),
        (
            "origin verify tls",
            (if d.origin_verify_tls { "yes" } else { "no" }).to_owned(),
        ),
        ("origin ca", ca.unwrap_or_else(|| "system roots".to_owned())),
    ];
    rows.extend(https_rows(&d.https, None));
    key_values(&rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn domain_list_and_details() {
        let v = serde_json::json!({"domains": [
            {"name": "www.example.com", "origin_protocol": "http", "origin_verify_tls": true,
             "origins": [{"address": "10.0.0.5", "http_port": 80, "https_port": 443, "priority": "primary", "weight": 10},
                         {"address": "::1", "http_port": 8080, "https_port": 443, "priority": "backup", "weight": 10}],
             "https": {"enabled": true, "certificate": "c1", "force_redirect": "http_to_https", "redirect_status": 301,
                       "hsts": {"enabled": true, "max_age": 60, "include_subdomains": true, "preload": false},
                       "http2": true, "tls_versions": ["1.2", "1.3"]}},
            {"name": "*.example.org", "origin_protocol": "follow",
             "origins": [{"address": "o.example.net", "http_port": 80, "https_port": 8443}],
             "https": {"enabled": false}}
        ]});
        let list: DomainList = serde_json::from_value(v).unwrap();
        assert_eq!(
            list.text(),
            "NAME             HTTPS  CERTIFICATE  REDIRECT           ORIGINS\n\
             www.example.com  on     c1           http-to-https 301  10.0.0.5:80, [::1]:8080 (backup)\n\
             *.example.org    off    -            off                o.example.net:80/8443\n"
        );
        let d = details(&list.domains[0]);
        assert!(
            d.contains("origins:            10.0.0.5 http 80 https 443 primary weight 10\n"),
            "{d}"
        );
        assert!(
            d.contains("\n                    [::1] http 8080 https 443 backup weight 10\n"),
            "{d}"
        );
        assert!(
            d.contains("hsts:               max-age=60; includeSubDomains\n"),
            "{d}"
        );
        assert!(d.contains("tls versions:       1.2, 1.3\n"), "{d}");
        assert!(d.contains("origin ca:          system roots\n"), "{d}");
        assert_eq!(redirect_label(ForceRedirect::DenyHttp, 301), "deny-http");
        assert_eq!(
            redirect_label(ForceRedirect::HttpsToHttp, 308),
            "https-to-http 308"
        );
    }

    #[test]
    fn https_settings_read_with_their_certificate() {
        let v = serde_json::json!({
            "enabled": true, "certificate": "c1", "force_redirect": "off", "redirect_status": 301,
            "hsts": {"enabled": false, "max_age": 10, "include_subdomains": false, "preload": false},
            "http2": false, "tls_versions": ["1.3"],
            "certificate_info": {"name": "c1", "subject": "CN=a", "issuer": "CN=ca", "sans": ["a"],
                "not_before": "2025-01-01T00:00:00Z", "not_after": "2030-01-01T00:00:00Z", "serial": "0A",
                "fingerprint_sha256": "ab", "key_type": "ecdsa-p256", "chain_length": 1, "status": "valid",
                "domains": [], "warnings": []}
        });
        let shown = HttpsShown {
            domain: "a.example.com".into(),
            view: serde_json::from_value(v.clone()).unwrap(),
        };
        let text = shown.text();
        assert!(text.starts_with("HTTPS of a.example.com\nhttps:"), "{text}");
        assert!(
            text.contains("certificate expires:  2030-01-01T00:00:00Z (in "),
            "{text}"
        );
        assert!(text.contains("hsts:                 off\n"), "{text}");
        assert!(text.contains("http2:                off\n"), "{text}");
        let printed: serde_json::Value = serde_json::from_str(&shown.json().unwrap()).unwrap();
        assert_eq!(printed["certificate_info"]["name"], "c1");
        assert_eq!(printed["tls_versions"], serde_json::json!(["1.3"]));
    }
}
