//! The command line of `tlsedge cert …` and `tlsedge domain …` (clap), and what the arguments
//! turn into: the [`RawDomainConfig`] that `domain add` sends and the [`HttpsPatch`] of
//! `domain https`.

use std::path::PathBuf;

use tlsedge_api::{HstsPatch, HttpsPatch};
use tlsedge_model::{
    CertName, DomainName, ForceRedirect, HostPort, HttpsConfig, OriginProtocol, Priority,
    RawDomainConfig, RawOrigin, RedirectStatus, TlsVersion,
};

use super::api::ApiError;

/// Where the admin API is and how to authenticate; shared by every client command.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ClientOpts {
    /// Admin API base URL, e.g. http://127.0.0.1:9180
    #[arg(long, env = "TLSEDGE_ADMIN_URL", global = true)]
    pub(crate) admin: Option<String>,
    /// Bearer token
    #[arg(long, env = "TLSEDGE_TOKEN", global = true, hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Print JSON instead of tables
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// `tlsedge cert …`: the certificate center.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum CertCommand {
    /// Upload a certificate chain (leaf first) and its unencrypted private key
    Upload {
        /// Name in the certificate center (letters, digits, '.', '_', '-')
        name: String,
        /// PEM file with the certificate chain, leaf first
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// PEM file with the private key (not encrypted)
        #[arg(long, value_name = "FILE", required_unless_present = "replace")]
        key: Option<PathBuf>,
        /// Replace the certificate of that name; every domain bound to it serves the new one
        /// (--key may be left out when the name holds a CSR key)
        #[arg(long)]
        replace: bool,
    },
    /// List certificates
    List {
        /// Only certificates that expire within this many days (0 to 3650, as the API bounds it)
        #[arg(long, value_name = "DAYS",
              value_parser = clap::value_parser!(u32).range(0..=i64::from(tlsedge_api::MAX_WINDOW_DAYS)))]
        expiring_within_days: Option<u32>,
    },
    /// Show one certificate
    Show {
        /// Certificate name
        name: String,
    },
    /// List the domains that serve a certificate
    Domains {
        /// Certificate name
        name: String,
    },
    /// Bind a certificate to domains and enable HTTPS on each (all or nothing)
    Deploy {
        /// Certificate name
        name: String,
        /// A domain to serve it; repeatable, or comma-separated
        #[arg(
            long = "domain",
            value_name = "DOMAIN",
            required = true,
            value_delimiter = ',',
            value_parser = parse_domain_arg
        )]
        domains: Vec<String>,
    },
    /// Delete a certificate that no domain serves
    Delete {
        /// Certificate name
        name: String,
    },
}

/// `tlsedge domain …`: accelerated domains.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum DomainCommand {
    /// Add an accelerated domain
    Add(AddArgs),
    /// List domains
    List,
    /// Show one domain
    Show {
        /// Domain name (Unicode names are sent as their A-labels)
        #[arg(value_parser = parse_domain_arg)]
        name: String,
    },
    /// Enable, change or disable HTTPS for a domain; only the options given change
    /// (without options, shows the current HTTPS settings)
    Https(HttpsArgs),
    /// Delete a domain
    Delete {
        /// Domain name (Unicode names are sent as their A-labels)
        #[arg(value_parser = parse_domain_arg)]
        name: String,
    },
}

/// Arguments of `domain add`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct AddArgs {
    /// Domain name: an exact host or a one-level wildcard (*.example.com); Unicode names are
    /// sent as their A-labels
    #[arg(value_parser = parse_domain_arg)]
    pub(crate) name: String,
    /// Primary origin as HOST[:HTTP_PORT] (port 80 when left out; IPv6 as [::1]:8080); repeatable
    #[arg(long = "origin", value_name = "HOST[:PORT]", required = true, value_parser = parse_origin_arg)]
    pub(crate) origins: Vec<HostPort>,
    /// Backup origin, used only while no primary answers, as HOST[:HTTP_PORT]; repeatable
    #[arg(long = "backup-origin", value_name = "HOST[:PORT]", value_parser = parse_origin_arg)]
    pub(crate) backup_origins: Vec<HostPort>,
    /// How the edge reaches the origins ("follow" uses the client's scheme)
    #[arg(long, value_enum, default_value_t = ProtocolArg::Http)]
    pub(crate) origin_protocol: ProtocolArg,
    /// Port for HTTPS to every origin
    #[arg(long, value_name = "PORT", default_value_t = 443, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) origin_https_port: u16,
    /// Host header sent to the origins (default: the client's)
    #[arg(long, value_name = "HOST")]
    pub(crate) origin_host: Option<String>,
    /// SNI of the handshake with the origins (default: --origin-host, else the address)
    #[arg(long, value_name = "NAME")]
    pub(crate) origin_sni: Option<String>,
    /// Do not verify the origins' certificates
    #[arg(long)]
    pub(crate) no_origin_verify: bool,
    /// PEM file with the CAs trusted for the origins' certificates (default: the system's roots)
    #[arg(long, value_name = "FILE")]
    pub(crate) origin_ca: Option<PathBuf>,
}

/// Arguments of `domain https`. Every option left out keeps the domain's current value.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct HttpsArgs {
    /// Domain name (Unicode names are sent as their A-labels)
    #[arg(value_parser = parse_domain_arg)]
    pub(crate) name: String,
    /// Serve this certificate from the certificate center (enables HTTPS)
    #[arg(long, value_name = "CERT", value_parser = parse_cert_name, conflicts_with_all = ["cert_file", "disable"])]
    pub(crate) cert: Option<CertName>,
    /// Upload a certificate chain private to this domain (enables HTTPS; needs --key-file)
    #[arg(
        long,
        value_name = "FILE",
        requires = "key_file",
        conflicts_with = "disable"
    )]
    pub(crate) cert_file: Option<PathBuf>,
    /// The private key of --cert-file
    #[arg(long, value_name = "FILE", requires = "cert_file")]
    pub(crate) key_file: Option<PathBuf>,
    /// Enable HTTPS again with the certificate the domain already names
    #[arg(long, conflicts_with = "disable")]
    pub(crate) enable: bool,
    /// Disable HTTPS (refused while a redirect to HTTPS, deny-http or HSTS depends on it)
    #[arg(long)]
    pub(crate) disable: bool,
    /// Forced redirect between schemes
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) force_redirect: Option<RedirectArg>,
    /// Status code of forced redirects: 301, 302, 307 or 308
    #[arg(long, value_name = "CODE", value_parser = parse_redirect_status)]
    pub(crate) redirect_status: Option<RedirectStatus>,
    /// Enable HSTS with this max-age in seconds
    #[arg(long, value_name = "MAX_AGE", conflicts_with = "no_hsts")]
    pub(crate) hsts: Option<u64>,
    /// Disable HSTS
    #[arg(long)]
    pub(crate) no_hsts: bool,
    /// Add includeSubDomains to HSTS (=false removes it)
    #[arg(long, value_name = "BOOL", num_args = 0..=1,
        require_equals = true, default_missing_value = "true")]
    pub(crate) hsts_include_subdomains: Option<bool>,
    /// Add preload to HSTS (=false removes it)
    #[arg(long, value_name = "BOOL", num_args = 0..=1,
        require_equals = true, default_missing_value = "true")]
    pub(crate) hsts_preload: Option<bool>,
    /// Do not offer HTTP/2 (ALPN h2)
    #[arg(long, conflicts_with = "http2")]
    pub(crate) no_http2: bool,
    /// Offer HTTP/2 (ALPN h2) again
    #[arg(long)]
    pub(crate) http2: bool,
    /// Accepted TLS versions, comma-separated: 1.2, 1.3
    #[arg(long, value_name = "VERSIONS", value_delimiter = ',', value_parser = parse_tls_version)]
    pub(crate) tls: Vec<TlsVersion>,
}

impl HttpsArgs {
    /// Whether any option asks for a change (without one, `domain https` only shows).
    pub(crate) fn changes_something(&self) -> bool {
        self.cert.is_some()
            || self.cert_file.is_some()
            || self.enable
            || self.disable
            || self.force_redirect.is_some()
            || self.redirect_status.is_some()
            || self.hsts.is_some()
            || self.no_hsts
            || self.hsts_include_subdomains.is_some()
            || self.hsts_preload.is_some()
            || self.no_http2
            || self.http2
            || !self.tls.is_empty()
    }

    /// The change the options ask for; every option left out is left out of the patch, so the
    /// server keeps its value. `--cert-file`/`--key-file` are read by the caller into
    /// `cert_pem`/`key_pem`; the server then names the domain's private certificate and turns
    /// HTTPS on.
    pub(crate) fn patch(&self) -> HttpsPatch {
        let mut enabled = None;
        if self.cert.is_some() || self.enable {
            enabled = Some(true);
        }
        if self.disable {
            enabled = Some(false);
        }
        let hsts = HstsPatch {
            enabled: match (self.hsts, self.no_hsts) {
                (Some(_), _) => Some(true),
                (None, true) => Some(false),
                (None, false) => None,
            },
            max_age: self.hsts,
            include_subdomains: self.hsts_include_subdomains,
            preload: self.hsts_preload,
        };
        let http2 = match (self.http2, self.no_http2) {
            (true, _) => Some(true),
            (false, true) => Some(false),
            (false, false) => None,
        };
        HttpsPatch {
            enabled,
            certificate: self.cert.clone().map(Some),
            force_redirect: self.force_redirect.map(Into::into),
            redirect_status: self.redirect_status,
            hsts: (hsts != HstsPatch::default()).then_some(hsts),
            http2,
            tls_versions: (!self.tls.is_empty()).then(|| {
                let mut v = self.tls.clone();
                v.sort();
                v.dedup();
                v
            }),
            cert_pem: None,
            key_pem: None,
        }
    }
}

/// `--origin-protocol` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtocolArg {
    /// Plain HTTP to the origin's HTTP port
    Http,
    /// TLS to the origin's HTTPS port
    Https,
    /// The client's scheme
    Follow,
}

impl From<ProtocolArg> for OriginProtocol {
    fn from(p: ProtocolArg) -> Self {
        match p {
            ProtocolArg::Http => Self::Http,
            ProtocolArg::Https => Self::Https,
            ProtocolArg::Follow => Self::Follow,
        }
    }
}

/// `--force-redirect` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirectArg {
    /// Serve both schemes
    Off,
    /// Redirect plain HTTP to HTTPS
    #[value(alias = "http_to_https")]
    HttpToHttps,
    /// Redirect HTTPS to plain HTTP
    #[value(alias = "https_to_http")]
    HttpsToHttp,
    /// Refuse plain HTTP with 403; serve HTTPS
    #[value(alias = "deny_http")]
    DenyHttp,
}

impl From<RedirectArg> for ForceRedirect {
    fn from(r: RedirectArg) -> Self {
        match r {
            RedirectArg::Off => Self::Off,
            RedirectArg::HttpToHttps => Self::HttpToHttps,
            RedirectArg::HttpsToHttp => Self::HttpsToHttp,
            RedirectArg::DenyHttp => Self::DenyHttp,
        }
    }
}

/// Parses an origin argument, `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT` or a bare IPv6
/// address, with port 80 when none is given: the one parser of `domain add --origin` and
/// `tlsedge import --origin` (the rules are the model's [`HostPort`]).
pub(crate) fn parse_origin_arg(s: &str) -> Result<HostPort, String> {
    HostPort::parse(s, 80)
}

/// A domain name argument in the form the API stores and matches: the A-label of a Unicode
/// name (`bücher.example` -> `xn--bcher-kva.example`), through the model's one parser.
fn parse_domain_arg(s: &str) -> Result<String, String> {
    DomainName::parse(s)
        .map(|n| n.as_str().to_owned())
        .map_err(|e| e.message)
}

fn parse_cert_name(s: &str) -> Result<CertName, String> {
    CertName::parse(s).map_err(|e| e.message)
}

fn parse_redirect_status(s: &str) -> Result<RedirectStatus, String> {
    s.trim()
        .parse::<u16>()
        .ok()
        .and_then(RedirectStatus::from_u16)
        .ok_or_else(|| "the redirect status must be 301, 302, 307 or 308".into())
}

fn parse_tls_version(s: &str) -> Result<TlsVersion, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_prefix("tlsv")
        .or_else(|| t.strip_prefix("tls"))
        .unwrap_or(&t);
    TlsVersion::parse(t).ok_or_else(|| format!("unsupported TLS version {s:?}: use 1.2 and/or 1.3"))
}

/// The domain `domain add` creates, HTTPS off.
pub(crate) fn build_domain(
    args: &AddArgs,
    origin_ca_pem: Option<String>,
) -> anyhow::Result<RawDomainConfig> {
    let name = DomainName::parse(&args.name).map_err(ApiError::from)?;
    let origin = |o: &HostPort, priority| RawOrigin {
        address: o.host.as_str().to_owned(),
        http_port: o.port,
        https_port: args.origin_https_port,
        priority,
        weight: 10,
    };
    let origins = (args.origins.iter().map(|o| origin(o, Priority::Primary)))
        .chain(
            args.backup_origins
                .iter()
                .map(|o| origin(o, Priority::Backup)),
        )
        .collect();
    Ok(RawDomainConfig {
        name,
        origins,
        origin_protocol: args.origin_protocol.into(),
        origin_host: args.origin_host.clone(),
        origin_sni: args.origin_sni.clone(),
        origin_verify_tls: !args.no_origin_verify,
        origin_ca_pem,
        https: HttpsConfig::default(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(super) mod tests {
    use super::*;
    use clap::Parser;
    use tlsedge_model::Hsts;

    #[derive(clap::Parser, Debug)]
    pub(in crate::cli) struct Cli {
        #[command(flatten)]
        pub(in crate::cli) opts: ClientOpts,
        #[command(subcommand)]
        pub(in crate::cli) cmd: Top,
    }

    #[derive(clap::Subcommand, Debug)]
    pub(in crate::cli) enum Top {
        #[command(subcommand)]
        Cert(CertCommand),
        #[command(subcommand)]
        Domain(DomainCommand),
    }

    pub(in crate::cli) fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tlsedge").chain(args.iter().copied()))
    }

    fn https_args(args: &[&str]) -> HttpsArgs {
        let mut all = vec!["domain", "https", "www.example.com"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().cmd {
            Top::Domain(DomainCommand::Https(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    /// The settings the server makes of `current` with the patch of `args`.
    fn https_update(current: HttpsConfig, args: &HttpsArgs) -> HttpsConfig {
        args.patch().apply(&current)
    }

    fn add_args(args: &[&str]) -> AddArgs {
        let mut all = vec!["domain", "add", "www.example.com"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().cmd {
            Top::Domain(DomainCommand::Add(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn origins() {
        let o = |s: &str| {
            let hp = parse_origin_arg(s).unwrap();
            (hp.host.as_str().to_owned(), hp.port)
        };
        assert_eq!(o("10.0.0.5:8080"), ("10.0.0.5".into(), 8080));
        assert_eq!(o("origin.example.com"), ("origin.example.com".into(), 80));
        assert_eq!(o("[::1]:8080"), ("::1".into(), 8080));
        assert_eq!(o("[2001:db8::5]"), ("2001:db8::5".into(), 80));
        assert_eq!(o("2001:db8::5"), ("2001:db8::5".into(), 80));
        for bad in [
            "",
            "h:0",
            "h:99999",
            "h:x",
            ":80",
            "[::1",
            "[::1]x",
            "[nothost]:80",
            "http://h",
            "h/p",
            "a:b:c",
        ] {
            assert!(parse_origin_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn add_builds_the_domain() {
        let a = add_args(&[
            "--origin",
            "10.0.0.5:8080",
            "--origin",
            "[::1]:81",
            "--backup-origin",
            "b.example.net",
            "--origin-protocol",
            "https",
            "--origin-https-port",
            "8443",
            "--origin-host",
            "app.internal",
            "--no-origin-verify",
        ]);
        let d = build_domain(&a, None).unwrap();
        assert_eq!(d.name.as_str(), "www.example.com");
        assert_eq!(d.origins.len(), 3);
        assert_eq!(
            (
                d.origins[0].address.as_str(),
                d.origins[0].http_port,
                d.origins[0].https_port
            ),
            ("10.0.0.5", 8080, 8443)
        );
        assert_eq!(
            (d.origins[1].address.as_str(), d.origins[1].http_port),
            ("::1", 81)
        );
        assert_eq!(d.origins[1].priority, Priority::Primary);
        assert_eq!(
            (d.origins[2].address.as_str(), d.origins[2].http_port),
            ("b.example.net", 80)
        );
        assert_eq!(d.origins[2].priority, Priority::Backup);
        assert_eq!(d.origin_protocol, OriginProtocol::Https);
        assert_eq!(d.origin_host.as_deref(), Some("app.internal"));
        assert!(!d.origin_verify_tls);
        assert!(!d.https.enabled);
        // What is sent passes the model's own checks.
        let _sent: tlsedge_model::DomainConfig =
            serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();

        let a = add_args(&["--origin", "o.example.net"]);
        let d = build_domain(&a, None).unwrap();
        assert_eq!(d.origin_protocol, OriginProtocol::Http);
        assert_eq!(d.origins[0].https_port, 443);
        assert!(d.origin_verify_tls);

        let mut bad = a.clone();
        bad.name = "not a domain".into();
        let e = build_domain(&bad, None).unwrap_err().to_string();
        assert!(e.starts_with("InvalidDomain: invalid domain name"), "{e}");
        assert!(e.ends_with("(field name)"), "{e}");

        assert!(
            parse(&["domain", "add", "x.example.com"]).is_err(),
            "--origin is required"
        );
    }

    #[test]
    fn https_changes_only_what_is_given() {
        let current = HttpsConfig {
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
        };
        // Nothing given: nothing changes, and the command only shows.
        let none = https_args(&[]);
        assert!(!none.changes_something());
        assert!(none.patch().is_empty());
        assert_eq!(https_update(current.clone(), &none), current);
        // Only what is given is sent.
        assert_eq!(
            serde_json::to_value(https_args(&["--hsts", "600", "--no-http2"]).patch()).unwrap(),
            serde_json::json!({"hsts": {"enabled": true, "max_age": 600}, "http2": false})
        );

        let h = https_update(current.clone(), &https_args(&["--hsts", "0"]));
        assert_eq!(
            h.hsts,
            Hsts {
                enabled: true,
                max_age: 0,
                ..current.hsts.clone()
            }
        );
        assert_eq!(
            HttpsConfig {
                hsts: current.hsts.clone(),
                ..h
            },
            current
        );

        let h = https_update(
            current.clone(),
            &https_args(&["--no-hsts", "--hsts-include-subdomains=false"]),
        );
        assert!(!h.hsts.enabled && !h.hsts.include_subdomains);
        assert_eq!(h.hsts.max_age, 100);

        let h = https_update(
            current.clone(),
            &https_args(&["--hsts-preload", "--no-http2", "--tls", "1.3"]),
        );
        assert!(h.hsts.preload && !h.http2);
        assert_eq!(h.tls_versions, vec![TlsVersion::Tls13]);
        assert_eq!(h.certificate, current.certificate);

        let h = https_update(
            current.clone(),
            &https_args(&[
                "--force-redirect",
                "deny-http",
                "--redirect-status",
                "302",
                "--tls",
                "1.3,1.2,tls1.3",
            ]),
        );
        assert_eq!(h.force_redirect, ForceRedirect::DenyHttp);
        assert_eq!(h.redirect_status, RedirectStatus::Found);
        assert_eq!(h.tls_versions, vec![TlsVersion::Tls12, TlsVersion::Tls13]);
        for (arg, want) in [
            ("off", ForceRedirect::Off),
            ("http-to-https", ForceRedirect::HttpToHttps),
            ("https-to-http", ForceRedirect::HttpsToHttp),
            ("deny_http", ForceRedirect::DenyHttp),
        ] {
            let h = https_update(current.clone(), &https_args(&["--force-redirect", arg]));
            assert_eq!(h.force_redirect, want, "{arg}");
        }
        // The result serialises to the contract's names.
        let v = serde_json::to_value(https_update(
            current.clone(),
            &https_args(&["--force-redirect", "deny-http"]),
        ))
        .unwrap();
        assert_eq!(v["force_redirect"], "deny_http");

        // Enabling on a domain without HTTPS.
        let off = HttpsConfig::default();
        let h = https_update(off.clone(), &https_args(&["--cert", "example-com-2026"]));
        assert!(h.enabled);
        assert_eq!(
            h.certificate.as_ref().map(CertName::as_str),
            Some("example-com-2026")
        );
        assert_eq!(
            HttpsConfig {
                enabled: false,
                certificate: None,
                ..h
            },
            off
        );

        // The files are read and sent by the caller; the server names the private certificate
        // and enables HTTPS, so the patch leaves both to it.
        let p = https_args(&["--cert-file", "c.pem", "--key-file", "k.pem"]).patch();
        assert!(p.is_empty(), "{p:?}");

        let h = https_update(
            current.clone(),
            &https_args(&["--disable", "--force-redirect", "off", "--no-hsts"]),
        );
        assert!(!h.enabled && !h.hsts.enabled);
        assert_eq!(h.force_redirect, ForceRedirect::Off);
        assert_eq!(h.certificate, current.certificate);

        let h = https_update(
            HttpsConfig {
                enabled: false,
                ..current.clone()
            },
            &https_args(&["--enable"]),
        );
        assert!(h.enabled);
    }

    #[test]
    fn https_arguments_are_checked() {
        let bad = [
            vec!["--cert", "a", "--disable"],
            vec!["--cert", "a", "--cert-file", "c", "--key-file", "k"],
            vec!["--cert-file", "c"],
            vec!["--key-file", "k"],
            vec!["--hsts", "10", "--no-hsts"],
            vec!["--http2", "--no-http2"],
            vec!["--enable", "--disable"],
            vec!["--redirect-status", "303"],
            vec!["--tls", "1.1"],
            vec!["--force-redirect", "sometimes"],
            vec!["--cert", "a/b"],
        ];
        for args in bad {
            let mut all = vec!["domain", "https", "www.example.com"];
            all.extend_from_slice(&args);
            assert!(parse(&all).is_err(), "{args:?}");
        }
        // A flag with an optional value does not swallow the domain name after it.
        let a = parse(&["domain", "https", "--hsts-preload", "x.example.com"]).unwrap();
        match a.cmd {
            Top::Domain(DomainCommand::Https(h)) => {
                assert_eq!(
                    (h.name.as_str(), h.hsts_preload),
                    ("x.example.com", Some(true))
                );
            }
            other => panic!("{other:?}"),
        }
        let h = https_args(&["--hsts-include-subdomains=false"]);
        assert_eq!(h.hsts_include_subdomains, Some(false));
    }

    #[test]
    fn cert_arguments() {
        match parse(&[
            "cert",
            "deploy",
            "c1",
            "--domain",
            "a.example.com",
            "--domain",
            "b.example.com,c.example.com",
        ])
        .unwrap()
        .cmd
        {
            Top::Cert(CertCommand::Deploy { name, domains }) => {
                assert_eq!(name, "c1");
                assert_eq!(domains, ["a.example.com", "b.example.com", "c.example.com"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["cert", "deploy", "c1"]).is_err());
        assert!(
            parse(&["cert", "upload", "c1", "--cert", "c.pem"]).is_err(),
            "--key is required"
        );
        assert!(parse(&["cert", "upload", "c1", "--cert", "c.pem", "--replace"]).is_ok());
        let cli = parse(&[
            "cert",
            "list",
            "--expiring-within-days",
            "30",
            "--json",
            "--admin",
            "http://h:1",
        ])
        .unwrap();
        assert!(cli.opts.json);
        assert!(matches!(
            cli.cmd,
            Top::Cert(CertCommand::List {
                expiring_within_days: Some(30)
            })
        ));
        // Domain names are read as the API reads them: Unicode becomes the A-label.
        let cli = parse(&["domain", "show", "B\u{fc}cher.example"]).unwrap();
        assert!(matches!(
            cli.cmd,
            Top::Domain(DomainCommand::Show { ref name }) if name == "xn--bcher-kva.example"
        ));
        assert!(parse(&["domain", "delete", "xn--a-ecp.example"]).is_err());
        // The API's bound, checked before any request is sent.
        assert!(parse(&["cert", "list", "--expiring-within-days", "3000000"]).is_err());
        assert!(parse(&["cert", "list", "--expiring-within-days", "3650"]).is_ok());
    }
}
