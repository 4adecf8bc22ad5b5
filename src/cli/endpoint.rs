//! Finding the admin API: its base URL and the bearer token, from `--admin`/`--token` (or
//! `TLSEDGE_ADMIN_URL`/`TLSEDGE_TOKEN`), else from the node's config file (`[listen] admin`,
//! `[admin] token_file`).

use std::net::{Ipv6Addr, SocketAddr};
use std::path::Path;

use anyhow::{anyhow, bail};
use tlsedge_node::Config;

use super::args::ClientOpts;

/// The node's config as `serve` finds it (`Config::discover`), else the defaults; with a
/// description of where it came from for error messages.
fn load_config(path: Option<&Path>) -> anyhow::Result<(Config, String)> {
    Ok(match Config::discover(path)? {
        Some((cfg, from)) => (cfg, from.display().to_string()),
        None => (Config::default(), "the built-in defaults".to_owned()),
    })
}

/// `http://ADDR` for the admin listen address, with an unspecified address replaced by the
/// loopback address of its family.
fn admin_url_from_listen(listen: Option<SocketAddr>, source: &str) -> anyhow::Result<String> {
    let Some(mut addr) = listen else {
        bail!("the admin API is disabled in {source} (listen.admin = \"\"): pass --admin URL or set TLSEDGE_ADMIN_URL");
    };
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
pub(crate) fn resolve_endpoint(
    opts: &ClientOpts,
    config: Option<&Path>,
) -> anyhow::Result<(String, String)> {
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
        (None, Some((cfg, source))) => admin_url_from_listen(cfg.listen.admin, source)?,
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn opts(admin: Option<&str>, token: Option<&str>) -> ClientOpts {
        ClientOpts {
            admin: admin.map(Into::into),
            token: token.map(Into::into),
            json: false,
        }
    }

    #[test]
    fn admin_urls() {
        let listen = |s: &str| Some(s.parse().unwrap());
        assert_eq!(
            admin_url_from_listen(listen("127.0.0.1:9180"), "x").unwrap(),
            "http://127.0.0.1:9180"
        );
        assert_eq!(
            admin_url_from_listen(listen("0.0.0.0:9180"), "x").unwrap(),
            "http://127.0.0.1:9180"
        );
        assert_eq!(
            admin_url_from_listen(listen("[::]:9180"), "x").unwrap(),
            "http://[::1]:9180"
        );
        assert_eq!(
            admin_url_from_listen(listen("[fd00::1]:1"), "x").unwrap(),
            "http://[fd00::1]:1"
        );
        assert!(admin_url_from_listen(None, "x")
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
}
