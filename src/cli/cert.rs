//! `tlsedge cert …`: the certificate center through the admin API, and how its answers read.

use serde::Serialize;
use time::OffsetDateTime;
use tlsedge_api::{CertificateList, DeployRequest, DomainNames, ReplaceRequest, UploadRequest};
use tlsedge_model::CertificateInfo;

use super::api::{path_segment, ApiClient};
use super::args::CertCommand;
use super::read_pem;
use super::render::{
    date_of, join_or_dash, key_values, not_after_label, or_dash, print, rfc3339, table, wire_name,
    Output,
};
use super::Deleted;

/// Runs one `tlsedge cert …` command against `api` and prints its result.
pub(crate) async fn run(api: &ApiClient, cmd: CertCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        CertCommand::Upload {
            name,
            cert,
            key,
            replace,
        } => {
            let cert_pem = read_pem(&cert, "certificate")?;
            let key_pem = key.as_deref().map(|k| read_pem(k, "key")).transpose()?;
            let info: CertificateInfo = match (replace, key_pem) {
                (true, key_pem) => {
                    let path = format!("/certificates/{}", path_segment(&name));
                    api.put(
                        &path,
                        &ReplaceRequest {
                            name: None,
                            cert_pem,
                            key_pem,
                        },
                    )
                    .await?
                }
                (false, Some(key_pem)) => {
                    let req = UploadRequest {
                        name: name.clone(),
                        cert_pem,
                        key_pem,
                    };
                    api.post("/certificates", &req).await?
                }
                // clap requires --key without --replace.
                (false, None) => anyhow::bail!("--key is needed unless --replace is given"),
            };
            let verb = if replace { "replaced" } else { "uploaded" };
            print(&Uploaded { verb, name, info }, json)
        }
        CertCommand::List {
            expiring_within_days,
        } => {
            let path = match expiring_within_days {
                Some(d) => format!("/certificates?expiring_within_days={d}"),
                None => "/certificates".to_owned(),
            };
            let list = api.get(&path).await?;
            print(
                &Listing {
                    expiring_within_days,
                    list,
                },
                json,
            )
        }
        CertCommand::Show { name } => {
            let info: CertificateInfo = api
                .get(&format!("/certificates/{}", path_segment(&name)))
                .await?;
            print(&info, json)
        }
        CertCommand::Domains { name } => {
            let path = format!("/certificates/{}/domains", path_segment(&name));
            let serving = api.get(&path).await?;
            print(
                &Serving {
                    certificate: name,
                    serving,
                },
                json,
            )
        }
        CertCommand::Deploy { name, domains } => {
            let path = format!("/certificates/{}/deploy", path_segment(&name));
            let deployed = api.post(&path, &DeployRequest { domains }).await?;
            print(
                &Deployed {
                    certificate: name,
                    deployed,
                },
                json,
            )
        }
        CertCommand::Delete { name } => {
            api.delete(&format!("/certificates/{}", path_segment(&name)))
                .await?;
            print(
                &Deleted {
                    what: "certificate",
                    name,
                },
                json,
            )
        }
    }
}

/// The answer of an upload or a replace.
#[derive(Serialize)]
#[serde(transparent)]
struct Uploaded {
    #[serde(skip)]
    verb: &'static str,
    #[serde(skip)]
    name: String,
    info: CertificateInfo,
}

impl Output for Uploaded {
    fn text(&self) -> String {
        format!(
            "{} certificate {}\n{}",
            self.verb,
            self.name,
            details(&self.info, OffsetDateTime::now_utc())
        )
    }
}

impl Output for CertificateInfo {
    fn text(&self) -> String {
        details(self, OffsetDateTime::now_utc())
    }
}

/// `cert list`, and the filter it was asked with.
#[derive(Serialize)]
#[serde(transparent)]
struct Listing {
    #[serde(skip)]
    expiring_within_days: Option<u32>,
    list: CertificateList,
}

impl Output for Listing {
    fn text(&self) -> String {
        match (self.list.certificates.is_empty(), self.expiring_within_days) {
            (true, Some(d)) => format!("no certificates expire within {d} days"),
            (true, None) => "no certificates".to_owned(),
            (false, _) => list_table(&self.list.certificates),
        }
    }
}

/// `cert domains`: the domains that serve a certificate.
#[derive(Serialize)]
#[serde(transparent)]
struct Serving {
    #[serde(skip)]
    certificate: String,
    serving: DomainNames,
}

impl Output for Serving {
    fn text(&self) -> String {
        if self.serving.domains.is_empty() {
            format!("no domain serves certificate {}", self.certificate)
        } else {
            let names: Vec<&str> = self.serving.domains.iter().map(|d| d.as_str()).collect();
            names.join("\n")
        }
    }
}

/// `cert deploy`: the domains now bound.
#[derive(Serialize)]
#[serde(transparent)]
struct Deployed {
    #[serde(skip)]
    certificate: String,
    deployed: DomainNames,
}

impl Output for Deployed {
    fn text(&self) -> String {
        let names: Vec<&str> = self.deployed.domains.iter().map(|d| d.as_str()).collect();
        format!(
            "deployed certificate {} to {}; HTTPS is on for each",
            self.certificate,
            names.join(", ")
        )
    }
}

fn list_table(certs: &[CertificateInfo]) -> String {
    let rows = certs
        .iter()
        .map(|c| {
            let meta = c.meta.as_ref();
            let domains: Vec<&str> = c.domains.iter().map(|d| d.as_str()).collect();
            vec![
                c.name.to_string(),
                meta.map_or_else(
                    || "-".to_owned(),
                    |m| join_or_dash(&m.sans).replace(", ", ","),
                ),
                meta.map_or_else(|| "-".to_owned(), |m| date_of(m.not_after)),
                wire_name(&c.status),
                join_or_dash(&domains).replace(", ", ","),
            ]
        })
        .collect();
    table(&["NAME", "SANS", "NOT AFTER", "STATUS", "DOMAINS"], rows)
}

/// One certificate as `key: value` lines; `now` dates the expiry.
pub(crate) fn details(c: &CertificateInfo, now: OffsetDateTime) -> String {
    let meta = c.meta.as_ref();
    let field = |f: &dyn Fn(&tlsedge_model::CertificateMeta) -> String| {
        meta.map_or_else(|| "-".to_owned(), f)
    };
    let domains: Vec<&str> = c.domains.iter().map(|d| d.as_str()).collect();
    let mut rows = vec![
        ("name", c.name.to_string()),
        ("status", wire_name(&c.status)),
        ("subject", field(&|m| or_dash(Some(&m.subject)))),
        ("issuer", field(&|m| or_dash(Some(&m.issuer)))),
        ("sans", field(&|m| join_or_dash(&m.sans))),
        ("not before", field(&|m| rfc3339(m.not_before))),
        ("not after", field(&|m| not_after_label(m.not_after, now))),
        ("key type", field(&|m| m.key_type.to_string())),
        ("chain length", field(&|m| m.chain_length.to_string())),
        ("serial", field(&|m| or_dash(Some(&m.serial)))),
        ("sha-256", field(&|m| or_dash(Some(&m.fingerprint_sha256)))),
        ("domains", join_or_dash(&domains)),
    ];
    if let Some(d) = &c.private_to {
        rows.push(("private to", d.to_string()));
    }
    if let Some(m) = meta.filter(|m| !m.warnings.is_empty()) {
        rows.push(("warnings", m.warnings.join("\n")));
    }
    key_values(&rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn certificate_list_and_details() {
        let v = serde_json::json!({"certificates": [
            {"name": "c1", "subject": "CN=a.example.com", "issuer": "CN=ca", "sans": ["a.example.com", "*.a.example.com"],
             "not_before": "2025-01-01T00:00:00Z", "not_after": "2026-03-01T23:30:00-02:00", "serial": "0A",
             "fingerprint_sha256": "ab", "key_type": "ecdsa-p256", "chain_length": 2, "status": "valid",
             "domains": ["a.example.com", "b.a.example.com"], "warnings": ["self-signed"]},
            {"name": "pending", "status": "pending_csr", "domains": []}
        ]});
        let list: CertificateList = serde_json::from_value(v).unwrap();
        assert_eq!(
            list_table(&list.certificates),
            "NAME     SANS                           NOT AFTER   STATUS       DOMAINS\n\
             c1       a.example.com,*.a.example.com  2026-03-02  valid        a.example.com,b.a.example.com\n\
             pending  -                              -           pending_csr  -\n"
        );
        let now = OffsetDateTime::parse("2026-02-01T00:00:00Z", &Rfc3339).unwrap();
        let d = details(&list.certificates[0], now);
        assert!(
            d.contains("not after:     2026-03-01T23:30:00-02:00 (in 29 days)\n"),
            "{d}"
        );
        assert!(
            d.contains("sans:          a.example.com, *.a.example.com\n"),
            "{d}"
        );
        assert!(d.contains("warnings:      self-signed\n"), "{d}");
        let later = OffsetDateTime::parse("2026-03-12T00:00:00Z", &Rfc3339).unwrap();
        assert!(details(&list.certificates[0], later).contains("(expired 9 days ago)"));
        let pending = details(&list.certificates[1], now);
        assert!(
            pending.contains("status:        pending_csr\n"),
            "{pending}"
        );
        assert!(pending.contains("not after:     -\n"), "{pending}");
    }

    #[test]
    fn json_is_the_api_answer_and_a_delete_prints_none() {
        let v = serde_json::json!({"certificates": []});
        let listing = Listing {
            expiring_within_days: Some(7),
            list: serde_json::from_value(v.clone()).unwrap(),
        };
        let printed: serde_json::Value = serde_json::from_str(&listing.json().unwrap()).unwrap();
        assert_eq!(printed, v);
        assert_eq!(listing.text(), "no certificates expire within 7 days");
        let deleted = Deleted {
            what: "certificate",
            name: "c1".into(),
        };
        assert_eq!(deleted.json().unwrap(), "");
        assert_eq!(deleted.text(), "deleted certificate c1");
    }
}
