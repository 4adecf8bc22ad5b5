//! The command-line client of the admin API: `tlsedge cert …` and `tlsedge domain …`.
//!
//! Every command is one or two calls to the admin API (`shared/spec/api.md`). The client finds
//! the API through `--admin` / `TLSEDGE_ADMIN_URL` and its bearer token through `--token` /
//! `TLSEDGE_TOKEN`, falling back to the node's config file (`[listen] admin` and
//! `[admin] token_file`). Output is a table or `key: value` lines for people, or the API's own
//! JSON with `--json` for scripts. A refusal becomes an [`ApiError`] whose text is the API's
//! code, message and field; the caller prints it to stderr and exits non-zero.
//!
//! Key material is read from files and sent, never printed: every output is built from the
//! API's responses, which hold none.

use std::fmt;
use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tlsedge_model::{
    CertName, DomainConfig, DomainName, ForceRedirect, HttpsConfig, Origin, OriginProtocol,
    Priority, TlsVersion, ValidationError,
};

use crate::config::Config;

/// The whole time one API call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to the admin API; a node that is up accepts at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The config file looked for in the working folder when `--config` is not given.
const DEFAULT_CONFIG_FILE: &str = "tlsedge.toml";

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
        /// Only certificates that expire within this many days
        #[arg(long, value_name = "DAYS")]
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
            value_delimiter = ','
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
        /// Domain name
        name: String,
    },
    /// Enable, change or disable HTTPS for a domain; only the options given change
    /// (without options, shows the current HTTPS settings)
    Https(HttpsArgs),
    /// Delete a domain
    Delete {
        /// Domain name
        name: String,
    },
}

/// Arguments of `domain add`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct AddArgs {
    /// Domain name: an exact host or a one-level wildcard (*.example.com)
    pub(crate) name: String,
    /// Primary origin as HOST[:HTTP_PORT] (port 80 when left out; IPv6 as [::1]:8080); repeatable
    #[arg(long = "origin", value_name = "HOST[:PORT]", required = true, value_parser = parse_origin_arg)]
    pub(crate) origins: Vec<OriginAddr>,
    /// Backup origin, used only while no primary answers, as HOST[:HTTP_PORT]; repeatable
    #[arg(long = "backup-origin", value_name = "HOST[:PORT]", value_parser = parse_origin_arg)]
    pub(crate) backup_origins: Vec<OriginAddr>,
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
    /// Domain name
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
    pub(crate) redirect_status: Option<u16>,
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
    fn changes_something(&self) -> bool {
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

/// An origin as given on the command line: a host (name or IP, IPv6 without brackets) and the
/// port for HTTP to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OriginAddr {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// Parses `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT` or a bare IPv6 address; the port
/// defaults to 80.
fn parse_origin_arg(s: &str) -> Result<OriginAddr, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty origin".into());
    }
    if s.contains("://") || s.contains('/') {
        return Err(format!(
            "{s:?}: give HOST[:PORT] without a scheme or path (see --origin-protocol)"
        ));
    }
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{s:?}: the port must be a number from 1 to 65535")),
        Ok(n) => Ok(n),
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: missing ']'"))?;
        host.parse::<Ipv6Addr>()
            .map_err(|_| format!("{s:?}: {host:?} is not an IPv6 address"))?;
        let port = match after {
            "" => 80,
            _ => port(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("{s:?}: expected ':' after ']'"))?,
            )?,
        };
        return Ok(OriginAddr {
            host: host.to_owned(),
            port,
        });
    }
    match s.matches(':').count() {
        0 => Ok(OriginAddr {
            host: s.to_owned(),
            port: 80,
        }),
        1 => {
            let (host, p) = s
                .split_once(':')
                .ok_or_else(|| format!("{s:?}: bad origin"))?;
            if host.is_empty() {
                return Err(format!("{s:?}: missing host"));
            }
            Ok(OriginAddr {
                host: host.to_owned(),
                port: port(p)?,
            })
        }
        _ => match s.parse::<Ipv6Addr>() {
            Ok(_) => Ok(OriginAddr {
                host: s.to_owned(),
                port: 80,
            }),
            Err(_) => Err(format!(
                "{s:?}: write an IPv6 origin with a port as [ADDRESS]:PORT"
            )),
        },
    }
}

fn parse_cert_name(s: &str) -> Result<CertName, String> {
    CertName::parse(s).map_err(|e| e.message)
}

fn parse_redirect_status(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(n @ (301 | 302 | 307 | 308)) => Ok(n),
        _ => Err("the redirect status must be 301, 302, 307 or 308".into()),
    }
}

fn parse_tls_version(s: &str) -> Result<TlsVersion, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_prefix("tlsv")
        .or_else(|| t.strip_prefix("tls"))
        .unwrap_or(&t);
    TlsVersion::parse(t).ok_or_else(|| format!("unsupported TLS version {s:?}: use 1.2 and/or 1.3"))
}

/// The HTTPS settings after applying the options given to `domain https`; everything not given
/// keeps its current value. The certificate of `--cert-file` is sent beside this config; its
/// `certificate` is left empty so the API names the domain's private certificate.
fn https_update(current: HttpsConfig, args: &HttpsArgs) -> HttpsConfig {
    let mut h = current;
    if let Some(cert) = &args.cert {
        h.certificate = Some(cert.clone());
        h.enabled = true;
    }
    if args.cert_file.is_some() {
        h.certificate = None;
        h.enabled = true;
    }
    if args.enable {
        h.enabled = true;
    }
    if args.disable {
        h.enabled = false;
    }
    if let Some(r) = args.force_redirect {
        h.force_redirect = r.into();
    }
    if let Some(s) = args.redirect_status {
        h.redirect_status = s;
    }
    if let Some(max_age) = args.hsts {
        h.hsts.enabled = true;
        h.hsts.max_age = max_age;
    }
    if args.no_hsts {
        h.hsts.enabled = false;
    }
    if let Some(v) = args.hsts_include_subdomains {
        h.hsts.include_subdomains = v;
    }
    if let Some(v) = args.hsts_preload {
        h.hsts.preload = v;
    }
    if args.no_http2 {
        h.http2 = false;
    }
    if args.http2 {
        h.http2 = true;
    }
    if !args.tls.is_empty() {
        let mut v = args.tls.clone();
        v.sort();
        v.dedup();
        h.tls_versions = v;
    }
    h
}

/// Reads an HttpsConfig out of `GET /domains/{name}/https`, which adds `certificate_info` (and
/// may add more) to the fields the model type accepts.
fn https_from_response(mut v: Value) -> anyhow::Result<HttpsConfig> {
    const KEYS: [&str; 7] = [
        "enabled",
        "certificate",
        "force_redirect",
        "redirect_status",
        "hsts",
        "http2",
        "tls_versions",
    ];
    const HSTS_KEYS: [&str; 4] = ["enabled", "max_age", "include_subdomains", "preload"];
    if let Some(obj) = v.as_object_mut() {
        obj.retain(|k, _| KEYS.contains(&k.as_str()));
        if let Some(hsts) = obj.get_mut("hsts").and_then(Value::as_object_mut) {
            hsts.retain(|k, _| HSTS_KEYS.contains(&k.as_str()));
        }
    }
    serde_json::from_value(v)
        .context("the admin API answered with HTTPS settings this client cannot read")
}

/// The domain `domain add` creates, HTTPS off.
fn build_domain(args: &AddArgs, origin_ca_pem: Option<String>) -> anyhow::Result<DomainConfig> {
    let name = DomainName::parse(&args.name).map_err(ApiError::from)?;
    let origin = |o: &OriginAddr, priority| Origin {
        address: o.host.clone(),
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
    Ok(DomainConfig {
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

// ---------------------------------------------------------------------------------------------
// Errors

/// A refusal by the admin API (or a local check that mirrors one), shown as
/// `Code: message (field f)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status of the answer; 0 for a check made before sending.
    pub(crate) status: u16,
    /// The contract's error code, or `HTTP <status>` when the body had none.
    pub(crate) code: String,
    /// The API's sentence.
    pub(crate) message: String,
    /// The JSON field concerned.
    pub(crate) field: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            status: 0,
            code: e.code.as_str().to_owned(),
            message: e.message,
            field: e.field,
        }
    }
}

impl ApiError {
    /// Reads an error answer: the contract's `{"error":{…}}` body, or whatever came instead.
    fn from_response(status: u16, reason: Option<&str>, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: String,
            message: String,
            #[serde(default)]
            field: Option<String>,
        }
        if let Ok(Body { error }) = serde_json::from_slice::<Body>(body) {
            return Self {
                status,
                code: error.code,
                message: error.message,
                field: error.field,
            };
        }
        let code = match status {
            401 => "Unauthorized".to_owned(),
            404 => "NotFound".to_owned(),
            413 => "PayloadTooLarge".to_owned(),
            _ => format!("HTTP {status}"),
        };
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if status == 401 && text.is_empty() {
            "the admin API refused the token".to_owned()
        } else if text.is_empty() {
            reason.unwrap_or("no reason given").to_owned()
        } else {
            let mut t: String = text.chars().take(300).collect();
            if t.len() < text.len() {
                t.push('…');
            }
            t
        };
        Self {
            status,
            code,
            message,
            field: None,
        }
    }
}

/// Describes a failure to talk to the API at all, naming the URL.
fn transport_error(base: &str, e: &reqwest::Error) -> anyhow::Error {
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    if e.is_timeout() {
        anyhow!(
            "the admin API at {base} did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        )
    } else if e.is_connect() {
        anyhow!(
            "cannot connect to the admin API at {base}: {root} (is the node running, and are --admin / TLSEDGE_ADMIN_URL right?)"
        )
    } else {
        anyhow!("request to the admin API at {base} failed: {root}")
    }
}

// ---------------------------------------------------------------------------------------------
// Finding the API

/// Reads the config named by `--config`, else `./tlsedge.toml` if it exists, else the defaults;
/// with a description of where it came from for error messages.
fn load_config(path: Option<&Path>) -> anyhow::Result<(Config, String)> {
    match path {
        Some(p) => Ok((Config::load(p)?, p.display().to_string())),
        None if Path::new(DEFAULT_CONFIG_FILE).is_file() => Ok((
            Config::load(Path::new(DEFAULT_CONFIG_FILE))?,
            DEFAULT_CONFIG_FILE.to_owned(),
        )),
        None => Ok((Config::default(), "the built-in defaults".to_owned())),
    }
}

/// `http://ADDR` for the admin listen address, with an unspecified address replaced by the
/// loopback address of its family.
fn admin_url_from_listen(listen: &str, source: &str) -> anyhow::Result<String> {
    if listen.trim().is_empty() {
        bail!("the admin API is disabled in {source} (listen.admin = \"\"): pass --admin URL or set TLSEDGE_ADMIN_URL");
    }
    let mut addr: SocketAddr = listen
        .trim()
        .parse()
        .map_err(|e| anyhow!("listen.admin = {listen:?} in {source} is not an address: {e}"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(format!("http://{addr}"))
}

/// The API's base URL (scheme, host, port, no trailing slash, no `/api/v1`) from what a person
/// typed: `127.0.0.1:9180`, `http://host:9180/`, `https://host/api/v1` all work.
fn normalize_admin_url(s: &str) -> anyhow::Result<String> {
    let s = s.trim();
    let (scheme, rest) = s.split_once("://").unwrap_or(("http", s));
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        bail!("the admin URL {s:?} must start with http:// or https://");
    }
    let rest = rest.trim_end_matches('/');
    let rest = rest
        .strip_suffix("/api/v1")
        .unwrap_or(rest)
        .trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        bail!("the admin URL {s:?} has no host");
    }
    Ok(format!("{scheme}://{rest}"))
}

/// The admin API's base URL and the bearer token, from the options or else the config.
fn resolve_endpoint(opts: &ClientOpts, config: Option<&Path>) -> anyhow::Result<(String, String)> {
    let admin = opts
        .admin
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let token = opts
        .token
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let loaded = if admin.is_none() || token.is_none() {
        Some(load_config(config)?)
    } else {
        None
    };
    let base = match (admin, &loaded) {
        (Some(a), _) => normalize_admin_url(a)?,
        (None, Some((cfg, source))) => admin_url_from_listen(&cfg.listen.admin, source)?,
        (None, None) => bail!("no admin URL: pass --admin URL or set TLSEDGE_ADMIN_URL"),
    };
    let token = match (token, &loaded) {
        (Some(t), _) => t.to_owned(),
        (None, Some((cfg, source))) => read_token_file(&cfg.admin.token_file, source)?,
        (None, None) => bail!("no admin token: pass --token or set TLSEDGE_TOKEN"),
    };
    Ok((base, token))
}

fn read_token_file(path: &Path, source: &str) -> anyhow::Result<String> {
    let hint = format!(
        "no admin token: pass --token, set TLSEDGE_TOKEN or make {} readable ([admin] token_file in {source})",
        path.display()
    );
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{hint}: {e}"))?;
    let token = text.trim();
    if token.is_empty() {
        bail!("{hint}: the file is empty");
    }
    Ok(token.to_owned())
}

/// Percent-encodes one path segment (names are checked by the API; this only keeps the URL whole).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'*') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Talking to the API

/// An authenticated connection to one node's admin API. Not `Debug`: it holds the token.
struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ApiClient {
    fn new(opts: &ClientOpts, config: Option<&Path>) -> anyhow::Result<Self> {
        let (base, token) = resolve_endpoint(opts, config)?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("tlsedge-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self { http, base, token })
    }

    /// One call; `path` is below `/api/v1`. A 2xx answer gives its JSON (`Null` when empty),
    /// anything else an [`ApiError`].
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        if !status.is_success() {
            return Err(ApiError::from_response(
                status.as_u16(),
                status.canonical_reason(),
                &bytes,
            )
            .into());
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            anyhow!(
                "the admin API at {} answered {status} with a body that is not JSON: {e}",
                self.base
            )
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

/// Runs a `tlsedge cert …` command and prints its result.
pub(crate) async fn run_cert(
    opts: &ClientOpts,
    config: Option<&Path>,
    cmd: CertCommand,
) -> anyhow::Result<()> {
    let api = ApiClient::new(opts, config)?;
    let json = opts.json;
    let out = match cmd {
        CertCommand::Upload {
            name,
            cert,
            key,
            replace,
        } => {
            let mut body = serde_json::Map::new();
            body.insert("cert_pem".into(), read_pem(&cert, "certificate")?.into());
            if let Some(key) = &key {
                body.insert("key_pem".into(), read_pem(key, "key")?.into());
            }
            let v = if replace {
                api.call(
                    reqwest::Method::PUT,
                    &format!("/certificates/{}", seg(&name)),
                    Some(&body.into()),
                )
                .await?
            } else {
                body.insert("name".into(), name.clone().into());
                api.call(reqwest::Method::POST, "/certificates", Some(&body.into()))
                    .await?
            };
            if json {
                pretty(&v)?
            } else {
                let verb = if replace { "replaced" } else { "uploaded" };
                format!(
                    "{verb} certificate {name}\n{}",
                    cert_details(&view(v)?, OffsetDateTime::now_utc())
                )
            }
        }
        CertCommand::List {
            expiring_within_days,
        } => {
            let path = match expiring_within_days {
                Some(d) => format!("/certificates?expiring_within_days={d}"),
                None => "/certificates".to_owned(),
            };
            let v = api.get(&path).await?;
            if json {
                pretty(&v)?
            } else {
                let certs: Vec<CertView> = list(v, "certificates")?;
                match (certs.is_empty(), expiring_within_days) {
                    (true, Some(d)) => format!("no certificates expire within {d} days"),
                    (true, None) => "no certificates".to_owned(),
                    (false, _) => cert_table(&certs),
                }
            }
        }
        CertCommand::Show { name } => {
            let v = api.get(&format!("/certificates/{}", seg(&name))).await?;
            if json {
                pretty(&v)?
            } else {
                cert_details(&view(v)?, OffsetDateTime::now_utc())
            }
        }
        CertCommand::Domains { name } => {
            let v = api
                .get(&format!("/certificates/{}/domains", seg(&name)))
                .await?;
            if json {
                pretty(&v)?
            } else {
                let domains: Vec<String> = list(v, "domains")?;
                if domains.is_empty() {
                    format!("no domain serves certificate {name}")
                } else {
                    domains.join("\n")
                }
            }
        }
        CertCommand::Deploy { name, domains } => {
            let body = serde_json::json!({ "domains": domains });
            let path = format!("/certificates/{}/deploy", seg(&name));
            let v = api.call(reqwest::Method::POST, &path, Some(&body)).await?;
            if json {
                pretty(&v)?
            } else {
                let done: Vec<String> = list(v, "domains").unwrap_or(domains);
                format!(
                    "deployed certificate {name} to {}; HTTPS is on for each",
                    done.join(", ")
                )
            }
        }
        CertCommand::Delete { name } => {
            let v = api
                .call(
                    reqwest::Method::DELETE,
                    &format!("/certificates/{}", seg(&name)),
                    None,
                )
                .await?;
            if json {
                pretty_or_nothing(&v)?
            } else {
                format!("deleted certificate {name}")
            }
        }
    };
    emit(&out)
}

/// Runs a `tlsedge domain …` command and prints its result.
pub(crate) async fn run_domain(
    opts: &ClientOpts,
    config: Option<&Path>,
    cmd: DomainCommand,
) -> anyhow::Result<()> {
    let api = ApiClient::new(opts, config)?;
    let json = opts.json;
    let out = match cmd {
        DomainCommand::Add(args) => {
            let ca = match &args.origin_ca {
                Some(p) => Some(read_pem(p, "CA certificate")?),
                None => None,
            };
            let body = serde_json::to_value(build_domain(&args, ca)?)?;
            let v = api
                .call(reqwest::Method::POST, "/domains", Some(&body))
                .await?;
            if json {
                pretty(&v)?
            } else {
                format!("added domain {}\n{}", args.name, domain_details(&view(v)?))
            }
        }
        DomainCommand::List => {
            let v = api.get("/domains").await?;
            if json {
                pretty(&v)?
            } else {
                let domains: Vec<DomainView> = list(v, "domains")?;
                if domains.is_empty() {
                    "no domains".to_owned()
                } else {
                    domain_table(&domains)
                }
            }
        }
        DomainCommand::Show { name } => {
            let v = api.get(&format!("/domains/{}", seg(&name))).await?;
            if json {
                pretty(&v)?
            } else {
                domain_details(&view(v)?)
            }
        }
        DomainCommand::Https(args) => {
            let path = format!("/domains/{}/https", seg(&args.name));
            let current = api.get(&path).await?;
            let v = if args.changes_something() {
                let new = https_update(https_from_response(current)?, &args);
                let mut body = serde_json::to_value(new)?;
                if let (Some(cert), Some(key), Some(obj)) =
                    (&args.cert_file, &args.key_file, body.as_object_mut())
                {
                    obj.insert("cert_pem".into(), read_pem(cert, "certificate")?.into());
                    obj.insert("key_pem".into(), read_pem(key, "key")?.into());
                }
                api.call(reqwest::Method::PUT, &path, Some(&body)).await?
            } else {
                current
            };
            if json {
                pretty(&v)?
            } else {
                let h: HttpsView = view(v)?;
                format!("HTTPS of {}\n{}", args.name, render_kv(&https_rows(&h)))
            }
        }
        DomainCommand::Delete { name } => {
            let v = api
                .call(
                    reqwest::Method::DELETE,
                    &format!("/domains/{}", seg(&name)),
                    None,
                )
                .await?;
            if json {
                pretty_or_nothing(&v)?
            } else {
                format!("deleted domain {name}")
            }
        }
    };
    emit(&out)
}

/// Reads a PEM file as text. Errors name the file, never its contents.
fn read_pem(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("cannot read {what} file {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow!(
            "{what} file {} is not PEM text (DER is not accepted)",
            path.display()
        )
    })
}

fn pretty(v: &Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)?)
}

/// The API's JSON when it sent some (a delete may answer 204 without a body).
fn pretty_or_nothing(v: &Value) -> anyhow::Result<String> {
    if v.is_null() {
        Ok(String::new())
    } else {
        pretty(v)
    }
}

/// Writes to stdout with a final newline; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let res = out
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush());
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading answers for display. These views accept any extra field the API adds, so a newer
// server never breaks an older client's tables; `--json` shows everything.

fn view<T: for<'de> Deserialize<'de>>(v: Value) -> anyhow::Result<T> {
    serde_json::from_value(v).context("the admin API answered with JSON this client cannot read")
}

/// The array under `key` of a list answer such as `{"certificates":[…]}`.
fn list<T: for<'de> Deserialize<'de>>(mut v: Value, key: &str) -> anyhow::Result<Vec<T>> {
    match v.get_mut(key).map(Value::take) {
        Some(items) => view(items),
        None => bail!("the admin API answered without {key:?}"),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CertView {
    name: String,
    subject: Option<String>,
    issuer: Option<String>,
    sans: Vec<String>,
    not_before: Option<String>,
    not_after: Option<String>,
    serial: Option<String>,
    fingerprint_sha256: Option<String>,
    key_type: Option<String>,
    chain_length: Option<u64>,
    status: String,
    domains: Vec<String>,
    warnings: Vec<String>,
    private_to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct OriginView {
    address: String,
    http_port: u16,
    https_port: u16,
    priority: String,
    weight: u32,
}

impl Default for OriginView {
    fn default() -> Self {
        Self {
            address: String::new(),
            http_port: 80,
            https_port: 443,
            priority: "primary".into(),
            weight: 10,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct HstsView {
    enabled: bool,
    max_age: u64,
    include_subdomains: bool,
    preload: bool,
}

impl Default for HstsView {
    fn default() -> Self {
        Self {
            enabled: false,
            max_age: 5_184_000,
            include_subdomains: false,
            preload: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct HttpsView {
    enabled: bool,
    certificate: Option<String>,
    force_redirect: String,
    redirect_status: u16,
    hsts: HstsView,
    http2: bool,
    tls_versions: Vec<String>,
    certificate_info: Option<CertView>,
}

impl Default for HttpsView {
    fn default() -> Self {
        Self {
            enabled: false,
            certificate: None,
            force_redirect: "off".into(),
            redirect_status: 301,
            hsts: HstsView::default(),
            http2: true,
            tls_versions: vec!["1.2".into(), "1.3".into()],
            certificate_info: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct DomainView {
    name: String,
    origins: Vec<OriginView>,
    origin_protocol: String,
    origin_host: Option<String>,
    origin_sni: Option<String>,
    origin_verify_tls: bool,
    origin_ca_pem: Option<String>,
    https: HttpsView,
}

impl Default for DomainView {
    fn default() -> Self {
        Self {
            name: String::new(),
            origins: Vec::new(),
            origin_protocol: "http".into(),
            origin_host: None,
            origin_sni: None,
            origin_verify_tls: true,
            origin_ca_pem: None,
            https: HttpsView::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// A table with a header row and columns padded to their widest cell, two spaces apart, no
/// trailing blanks.
fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `key: value` lines with the values aligned; a value of several lines continues under itself.
fn render_kv(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let key = format!("{k}:");
        let mut lines = v.lines();
        let first = lines.next().unwrap_or("");
        out.push_str(format!("{key:<width$}  {first}").trim_end());
        out.push('\n');
        for line in lines {
            out.push_str(format!("{:width$}  {line}", "").trim_end());
            out.push('\n');
        }
    }
    out
}

fn or_dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => "-".to_owned(),
    }
}

fn join_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

fn on_off(b: bool) -> String {
    (if b { "on" } else { "off" }).to_owned()
}

/// The UTC date of an RFC 3339 time (`2026-03-01`), or the text as it came.
fn date_of(rfc3339: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => t.to_offset(time::UtcOffset::UTC).date().to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// `2026-03-01T00:00:00Z (in 41 days)` / `(expired 3 days ago)`.
fn not_after_label(rfc3339: &str, now: OffsetDateTime) -> String {
    let Ok(t) = OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_owned();
    };
    let days = (t - now).whole_days();
    if t < now {
        format!("{rfc3339} (expired {} days ago)", -days)
    } else {
        format!("{rfc3339} (in {days} days)")
    }
}

fn cert_table(certs: &[CertView]) -> String {
    let rows: Vec<Vec<String>> = certs
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                join_or_dash(&c.sans).replace(", ", ","),
                c.not_after
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), date_of),
                or_dash(Some(&c.status)),
                join_or_dash(&c.domains).replace(", ", ","),
            ]
        })
        .collect();
    render_table(&["NAME", "SANS", "NOT AFTER", "STATUS", "DOMAINS"], &rows)
}

fn cert_details(c: &CertView, now: OffsetDateTime) -> String {
    let mut rows = vec![
        ("name", c.name.clone()),
        ("status", or_dash(Some(&c.status))),
        ("subject", or_dash(c.subject.as_deref())),
        ("issuer", or_dash(c.issuer.as_deref())),
        ("sans", join_or_dash(&c.sans)),
        ("not before", or_dash(c.not_before.as_deref())),
        (
            "not after",
            c.not_after
                .as_deref()
                .map_or_else(|| "-".to_owned(), |t| not_after_label(t, now)),
        ),
        ("key type", or_dash(c.key_type.as_deref())),
        (
            "chain length",
            c.chain_length
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
        ),
        ("serial", or_dash(c.serial.as_deref())),
        ("sha-256", or_dash(c.fingerprint_sha256.as_deref())),
        ("domains", join_or_dash(&c.domains)),
    ];
    if let Some(d) = &c.private_to {
        rows.push(("private to", d.clone()));
    }
    if !c.warnings.is_empty() {
        rows.push(("warnings", c.warnings.join("\n")));
    }
    render_kv(&rows)
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
fn origin_label(o: &OriginView, protocol: &str) -> String {
    let port = match protocol {
        "https" => o.https_port.to_string(),
        "follow" => format!("{}/{}", o.http_port, o.https_port),
        _ => o.http_port.to_string(),
    };
    let backup = if o.priority == "backup" {
        " (backup)"
    } else {
        ""
    };
    format!("{}:{port}{backup}", bracket(&o.address))
}

/// The CLI's spelling of a redirect, with its status when one is sent.
fn redirect_label(mode: &str, status: u16) -> String {
    match mode {
        "" | "off" => "off".to_owned(),
        "deny_http" => "deny-http".to_owned(),
        m => format!("{} {status}", m.replace('_', "-")),
    }
}

fn hsts_label(h: &HstsView) -> String {
    if !h.enabled {
        return "off".to_owned();
    }
    let mut s = format!("max-age={}", h.max_age);
    if h.include_subdomains {
        s.push_str("; includeSubDomains");
    }
    if h.preload {
        s.push_str("; preload");
    }
    s
}

fn domain_table(domains: &[DomainView]) -> String {
    let rows: Vec<Vec<String>> = domains
        .iter()
        .map(|d| {
            let origins: Vec<String> = d
                .origins
                .iter()
                .map(|o| origin_label(o, &d.origin_protocol))
                .collect();
            vec![
                d.name.clone(),
                on_off(d.https.enabled),
                or_dash(d.https.certificate.as_deref()),
                redirect_label(&d.https.force_redirect, d.https.redirect_status),
                join_or_dash(&origins),
            ]
        })
        .collect();
    render_table(
        &["NAME", "HTTPS", "CERTIFICATE", "REDIRECT", "ORIGINS"],
        &rows,
    )
}

fn https_rows(h: &HttpsView) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("https", on_off(h.enabled)),
        ("certificate", or_dash(h.certificate.as_deref())),
    ];
    if let Some(info) = &h.certificate_info {
        if let Some(t) = &info.not_after {
            rows.push((
                "certificate expires",
                not_after_label(t, OffsetDateTime::now_utc()),
            ));
        }
    }
    rows.extend([
        (
            "force redirect",
            redirect_label(&h.force_redirect, h.redirect_status),
        ),
        ("hsts", hsts_label(&h.hsts)),
        ("http2", on_off(h.http2)),
        ("tls versions", join_or_dash(&h.tls_versions)),
    ]);
    rows
}

fn domain_details(d: &DomainView) -> String {
    let origins: Vec<String> = d
        .origins
        .iter()
        .map(|o| {
            format!(
                "{} http {} https {} {} weight {}",
                bracket(&o.address),
                o.http_port,
                o.https_port,
                o.priority,
                o.weight
            )
        })
        .collect();
    let ca = d.origin_ca_pem.as_deref().map(|pem| {
        let n = pem.matches("-----BEGIN CERTIFICATE-----").count();
        format!("{n} custom CA certificate{}", if n == 1 { "" } else { "s" })
    });
    let mut rows = vec![
        ("name", d.name.clone()),
        (
            "origins",
            if origins.is_empty() {
                "-".to_owned()
            } else {
                origins.join("\n")
            },
        ),
        ("origin protocol", or_dash(Some(&d.origin_protocol))),
        ("origin host", or_dash(d.origin_host.as_deref())),
        ("origin sni", or_dash(d.origin_sni.as_deref())),
        (
            "origin verify tls",
            (if d.origin_verify_tls { "yes" } else { "no" }).to_owned(),
        ),
        ("origin ca", ca.unwrap_or_else(|| "system roots".to_owned())),
    ];
    rows.extend(https_rows(&d.https));
    render_kv(&rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::Parser;
    use tlsedge_model::Hsts;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        opts: ClientOpts,
        #[command(subcommand)]
        cmd: Top,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Top {
        #[command(subcommand)]
        Cert(CertCommand),
        #[command(subcommand)]
        Domain(DomainCommand),
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
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

    fn add_args(args: &[&str]) -> AddArgs {
        let mut all = vec!["domain", "add", "www.example.com"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().cmd {
            Top::Domain(DomainCommand::Add(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    fn opts(admin: Option<&str>, token: Option<&str>) -> ClientOpts {
        ClientOpts {
            admin: admin.map(Into::into),
            token: token.map(Into::into),
            json: false,
        }
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn origins() {
        let o = |s: &str| parse_origin_arg(s).unwrap();
        assert_eq!(
            o("10.0.0.5:8080"),
            OriginAddr {
                host: "10.0.0.5".into(),
                port: 8080
            }
        );
        assert_eq!(
            o("origin.example.com"),
            OriginAddr {
                host: "origin.example.com".into(),
                port: 80
            }
        );
        assert_eq!(
            o("[::1]:8080"),
            OriginAddr {
                host: "::1".into(),
                port: 8080
            }
        );
        assert_eq!(
            o("[2001:db8::5]"),
            OriginAddr {
                host: "2001:db8::5".into(),
                port: 80
            }
        );
        assert_eq!(
            o("2001:db8::5"),
            OriginAddr {
                host: "2001:db8::5".into(),
                port: 80
            }
        );
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
        let mut sent: DomainConfig =
            serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        sent.validate().unwrap();

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
            redirect_status: 308,
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
        assert_eq!(https_update(current.clone(), &none), current);

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
        assert_eq!(h.redirect_status, 302);
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

        let h = https_update(
            current.clone(),
            &https_args(&["--cert-file", "c.pem", "--key-file", "k.pem"]),
        );
        assert!(h.enabled && h.certificate.is_none());

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
    }

    #[test]
    fn https_settings_are_read_from_the_api_answer() {
        let v = serde_json::json!({
            "enabled": true, "certificate": "c1", "force_redirect": "http_to_https", "redirect_status": 301,
            "hsts": {"enabled": true, "max_age": 10, "include_subdomains": false, "preload": false, "extra": 1},
            "http2": false, "tls_versions": ["1.3"],
            "certificate_info": {"name": "c1", "not_after": "2030-01-01T00:00:00Z"}
        });
        let h = https_from_response(v).unwrap();
        assert!(h.enabled && !h.http2);
        assert_eq!(h.force_redirect, ForceRedirect::HttpToHttps);
        assert_eq!(h.hsts.max_age, 10);
        assert_eq!(h.tls_versions, vec![TlsVersion::Tls13]);
        assert_eq!(
            https_from_response(serde_json::json!({"enabled": false})).unwrap(),
            HttpsConfig::default()
        );
    }

    #[test]
    fn error_bodies() {
        let body = br#"{"error":{"code":"KeyMismatch","message":"the private key does not match the certificate","field":"key_pem"}}"#;
        let e = ApiError::from_response(422, Some("Unprocessable Entity"), body);
        assert_eq!(
            e.to_string(),
            "KeyMismatch: the private key does not match the certificate (field key_pem)"
        );
        assert_eq!(e.status, 422);

        let body = br#"{"error":{"code":"NotFound","message":"no certificate named x"}}"#;
        assert_eq!(
            ApiError::from_response(404, None, body).to_string(),
            "NotFound: no certificate named x"
        );
        let body =
            br#"{"error":{"code":"NotFound","message":"no certificate named x","field":null}}"#;
        assert_eq!(
            ApiError::from_response(404, None, body).to_string(),
            "NotFound: no certificate named x"
        );

        assert_eq!(
            ApiError::from_response(401, Some("Unauthorized"), b"").to_string(),
            "Unauthorized: the admin API refused the token"
        );
        assert_eq!(
            ApiError::from_response(502, Some("Bad Gateway"), b"").to_string(),
            "HTTP 502: Bad Gateway"
        );
        assert_eq!(
            ApiError::from_response(500, None, b"  upstream exploded\n").to_string(),
            "HTTP 500: upstream exploded"
        );
        let long = "x".repeat(1000);
        assert!(
            ApiError::from_response(500, None, long.as_bytes())
                .to_string()
                .chars()
                .count()
                < 320
        );
    }

    #[test]
    fn tables_are_aligned() {
        let t = render_table(
            &["NAME", "STATUS", "DOMAINS"],
            &[
                vec!["a".into(), "valid".into(), "x.example.com".into()],
                vec!["longer-name".into(), "expired".into(), "-".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME         STATUS   DOMAINS\n\
             a            valid    x.example.com\n\
             longer-name  expired  -\n"
        );
        let kv = render_kv(&[
            ("name", "c1".into()),
            ("warnings", "one\ntwo".into()),
            ("x", String::new()),
        ]);
        assert_eq!(kv, "name:      c1\nwarnings:  one\n           two\nx:\n");
    }

    #[test]
    fn certificate_list_and_details() {
        let v = serde_json::json!({"certificates": [
            {"name": "c1", "subject": "CN=a.example.com", "issuer": "CN=ca", "sans": ["a.example.com", "*.a.example.com"],
             "not_before": "2025-01-01T00:00:00Z", "not_after": "2026-03-01T23:30:00-02:00", "serial": "0A",
             "fingerprint_sha256": "ab", "key_type": "ecdsa-p256", "chain_length": 2, "status": "valid",
             "domains": ["a.example.com", "b.a.example.com"], "warnings": ["self-signed"]},
            {"name": "pending", "status": "pending_csr", "domains": []}
        ]});
        let certs: Vec<CertView> = list(v, "certificates").unwrap();
        assert_eq!(
            cert_table(&certs),
            "NAME     SANS                           NOT AFTER   STATUS       DOMAINS\n\
             c1       a.example.com,*.a.example.com  2026-03-02  valid        a.example.com,b.a.example.com\n\
             pending  -                              -           pending_csr  -\n"
        );
        let now = OffsetDateTime::parse("2026-02-01T00:00:00Z", &Rfc3339).unwrap();
        let d = cert_details(&certs[0], now);
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
        assert!(cert_details(&certs[0], later).contains("(expired 9 days ago)"));
    }

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
        let domains: Vec<DomainView> = list(v, "domains").unwrap();
        assert_eq!(
            domain_table(&domains),
            "NAME             HTTPS  CERTIFICATE  REDIRECT           ORIGINS\n\
             www.example.com  on     c1           http-to-https 301  10.0.0.5:80, [::1]:8080 (backup)\n\
             *.example.org    off    -            off                o.example.net:80/8443\n"
        );
        let d = domain_details(&domains[0]);
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
        assert!(d.contains("origin ca:          system roots\n"), "{d}");
        assert_eq!(redirect_label("deny_http", 301), "deny-http");
    }

    #[test]
    fn admin_urls() {
        assert_eq!(
            admin_url_from_listen("127.0.0.1:9180", "x").unwrap(),
            "http://127.0.0.1:9180"
        );
        assert_eq!(
            admin_url_from_listen("0.0.0.0:9180", "x").unwrap(),
            "http://127.0.0.1:9180"
        );
        assert_eq!(
            admin_url_from_listen("[::]:9180", "x").unwrap(),
            "http://[::1]:9180"
        );
        assert_eq!(
            admin_url_from_listen("[fd00::1]:1", "x").unwrap(),
            "http://[fd00::1]:1"
        );
        assert!(admin_url_from_listen("", "x")
            .unwrap_err()
            .to_string()
            .contains("--admin"));
        assert_eq!(
            normalize_admin_url("http://h:9180/").unwrap(),
            "http://h:9180"
        );
        assert_eq!(normalize_admin_url("h:9180").unwrap(), "http://h:9180");
        assert_eq!(
            normalize_admin_url("https://h/api/v1/").unwrap(),
            "https://h"
        );
        assert!(normalize_admin_url("ftp://h").is_err());
        assert!(normalize_admin_url("http://").is_err());
        assert!(normalize_admin_url("  ").is_err());
        assert_eq!(
            normalize_admin_url("HTTP://h:1/prefix/").unwrap(),
            "http://h:1/prefix"
        );
        assert_eq!(seg("*.example.com"), "*.example.com");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn endpoint_falls_back_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("admin.token");
        std::fs::write(&token_file, "s3cret\n").unwrap();
        let cfg = dir.path().join("tlsedge.toml");
        std::fs::write(
            &cfg,
            format!(
                "[listen]\nadmin = \"0.0.0.0:9999\"\n[admin]\ntoken_file = {:?}\n",
                token_file.display().to_string()
            ),
        )
        .unwrap();
        let (url, token) = resolve_endpoint(&opts(None, None), Some(&cfg)).unwrap();
        assert_eq!(
            (url.as_str(), token.as_str()),
            ("http://127.0.0.1:9999", "s3cret")
        );
        let (url, token) =
            resolve_endpoint(&opts(Some("http://h:1/"), Some(" t ")), Some(&cfg)).unwrap();
        assert_eq!((url.as_str(), token.as_str()), ("http://h:1", "t"));
        // Options given: the config is not even read.
        let missing = dir.path().join("missing.toml");
        assert!(resolve_endpoint(&opts(Some("h:1"), Some("t")), Some(&missing)).is_ok());
        assert!(resolve_endpoint(&opts(Some("h:1"), None), Some(&missing)).is_err());

        std::fs::remove_file(&token_file).unwrap();
        let e = resolve_endpoint(&opts(None, None), Some(&cfg))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("no admin token: pass --token, set TLSEDGE_TOKEN"),
            "{e}"
        );
        assert!(e.contains("admin.token"), "{e}");
        std::fs::write(&token_file, "  \n").unwrap();
        let e = resolve_endpoint(&opts(None, None), Some(&cfg))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("the file is empty"), "{e}");
    }

    /// Answers one request on a loopback port with `response`, and hands back what was asked.
    async fn one_shot_server(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head and, when there is one, a body of Content-Length bytes.
            loop {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
            }
            s.write_all(response.as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
            String::from_utf8_lossy(&buf).to_string()
        });
        (url, task)
    }

    #[tokio::test]
    async fn calls_carry_the_token_and_errors_the_api_message() {
        let body = r#"{"error":{"code":"KeyMismatch","message":"the private key does not match the certificate","field":"key_pem"}}"#;
        let response: &'static str = Box::leak(
            format!(
                "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, server) = one_shot_server(response).await;
        let api = ApiClient::new(&opts(Some(&url), Some("tok")), None).unwrap();
        let e = api
            .call(
                reqwest::Method::POST,
                "/certificates",
                Some(&serde_json::json!({"name": "c"})),
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "KeyMismatch: the private key does not match the certificate (field key_pem)"
        );
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /api/v1/certificates HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("authorization: bearer tok\r\n"),
            "{request}"
        );
        assert!(request.ends_with(r#"{"name":"c"}"#), "{request}");
    }

    #[tokio::test]
    async fn success_and_empty_answers() {
        let (url, server) =
            one_shot_server("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        let api = ApiClient::new(&opts(Some(&url), Some("tok")), None).unwrap();
        let v = api
            .call(reqwest::Method::DELETE, "/domains/a.example.com", None)
            .await
            .unwrap();
        assert!(v.is_null());
        assert!(server
            .await
            .unwrap()
            .starts_with("DELETE /api/v1/domains/a.example.com "));

        let (url, server) = one_shot_server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 19\r\nconnection: close\r\n\r\n{\"certificates\":[]}",
        )
        .await;
        let api = ApiClient::new(&opts(Some(&url), Some("tok")), None).unwrap();
        let v = api
            .get("/certificates?expiring_within_days=7")
            .await
            .unwrap();
        assert_eq!(v, serde_json::json!({"certificates": []}));
        assert!(server
            .await
            .unwrap()
            .starts_with("GET /api/v1/certificates?expiring_within_days=7 "));
    }

    #[tokio::test]
    async fn refused_connections_name_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}");
        let api = ApiClient::new(&opts(Some(&url), Some("tok")), None).unwrap();
        let e = api.get("/certificates").await.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot connect to the admin API at {url}: ")),
            "{e}"
        );
    }
}
