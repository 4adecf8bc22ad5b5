//! `tlsedge import`: loads many certificates and their domains straight into the node's store,
//! for first setup and migrations, where one API call per certificate (one synchronous commit
//! each) would take hours for a hundred thousand of them.
//!
//! The folder holds, per domain, `NAME.crt` (or `NAME.pem`: the chain, leaf first) and
//! `NAME.key` (its unencrypted private key). `NAME` is the domain name, with a leading `_.` for a
//! wildcard (`_.example.com.crt` → `*.example.com`); the certificate is stored under the name
//! `NAME` and the domain is created with HTTPS enabled on it. Every domain gets its origins and
//! other settings from `DIR/domain.json` (a DomainConfig whose `name` and `https.certificate`
//! are filled in per file) or, without that file, from `--origin HOST[:PORT]`.
//!
//! Every certificate goes through the same write-time checks as an upload through the admin API
//! (`tlsedge_certs::intake`: validated, its key sealed with the node's master key), and the
//! certificate must cover its domain. Nothing is written unless every file passes. The records
//! are then committed in a few large transactions (`--batch` records each).
//!
//! The import writes the store directly: run it while no node uses that store (a running node
//! does not see writes made by another process until it restarts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use time::OffsetDateTime;
use tlsedge_certs::{IntakeError, MasterKey};
use tlsedge_model::{
    CertName, DomainConfig, DomainName, HostPort, StoredCertificate, ValidationError,
};
use tlsedge_node::{Config, StoreBackend};
use tlsedge_store::{Op, SqliteStore, Store};

/// Options of `tlsedge import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Folder with NAME.crt (or NAME.pem) + NAME.key per domain, and optionally domain.json.
    #[arg(long)]
    pub dir: PathBuf,
    /// Origin of every imported domain as HOST[:HTTP_PORT] (port 80 when left out; IPv6 as
    /// [::1]:8080), plain HTTP, when there is no domain.json.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = crate::cli::parse_origin_arg)]
    pub origin: Option<HostPort>,
    /// Overwrite certificates and domains that already exist (default: refuse the import).
    #[arg(long)]
    pub replace: bool,
    /// Records (certificates + domains) per store transaction.
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
}

/// One certificate file pair found in the folder.
struct Pair {
    stem: String,
    cert: PathBuf,
    key: PathBuf,
}

/// Runs the import and prints a one-line summary.
pub async fn run(config: Option<&Path>, args: ImportArgs) -> anyhow::Result<()> {
    let cfg = Config::discover_or_default(config)?;
    let StoreBackend::Sqlite(sqlite) = &cfg.store else {
        bail!("tlsedge import writes the sqlite store only (store.backend = \"sqlite\")");
    };
    let started = Instant::now();
    let template = template(&args)?;
    let pairs = find_pairs(&args.dir)?;
    if pairs.is_empty() {
        bail!("no NAME.crt / NAME.key pairs in {}", args.dir.display());
    }
    let master = Arc::new(
        MasterKey::load_or_create(&cfg.secrets.master_key_file)
            .with_context(|| format!("master key {}", cfg.secrets.master_key_file.display()))?,
    );

    // Validation and sealing are CPU work: spread them over every core.
    let template = Arc::new(template);
    let pairs = Arc::new(pairs);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let now = OffsetDateTime::now_utc();
    let results = tokio::task::spawn_blocking({
        let master = master.clone();
        let template = template.clone();
        let pairs = pairs.clone();
        move || prepare_all(&pairs, &template, &master, now, threads)
    })
    .await
    .context("the validation threads stopped")??;
    let validated = started.elapsed();

    let store = SqliteStore::open(&sqlite.path)
        .with_context(|| format!("cannot open store {}", sqlite.path.display()))?;
    let state = store.state();
    if !args.replace {
        let existing = results
            .iter()
            .filter(|(c, d)| {
                state.certificates.contains_key(&c.name) || state.domains.contains_key(&d.name)
            })
            .count();
        if existing > 0 {
            bail!("{existing} of the certificates or domains already exist in the store; use --replace to overwrite them");
        }
    }

    let batch = args.batch.max(2);
    let count = results.len();
    let mut revision = state.revision;
    let mut ops = Vec::with_capacity(batch);
    let mut results = results.into_iter().peekable();
    while let Some((cert, domain)) = results.next() {
        ops.push(Op::PutCertificate(cert));
        ops.push(Op::PutDomain(domain));
        if ops.len() + 2 > batch || results.peek().is_none() {
            let chunk = std::mem::replace(&mut ops, Vec::with_capacity(batch));
            revision = store
                .commit(revision, chunk)
                .await
                .context("cannot write the store")?;
        }
    }
    println!(
        "imported {count} certificates and {count} domains into {} (revision {revision}) in {:.1} s ({:.1} s validating)",
        sqlite.path.display(),
        started.elapsed().as_secs_f64(),
        validated.as_secs_f64()
    );
    Ok(())
}

/// The domain settings every imported domain starts from.
fn template(args: &ImportArgs) -> anyhow::Result<serde_json::Value> {
    let file = args.dir.join("domain.json");
    let mut v: serde_json::Value = if file.exists() {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?
    } else {
        let Some(origin) = &args.origin else {
            bail!(
                "give the domains' origin with --origin HOST[:PORT] or {}",
                file.display()
            );
        };
        serde_json::json!({"origins": [{"address": origin.host.as_str(), "http_port": origin.port}]})
    };
    if !v.is_object() {
        bail!("domain.json must hold a JSON object");
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("name".into(), "placeholder.invalid".into());
    }
    Ok(v)
}

/// Every `NAME.crt`/`NAME.pem` with a `NAME.key` beside it, sorted by name.
fn find_pairs(dir: &Path) -> anyhow::Result<Vec<Pair>> {
    let mut found: BTreeMap<String, (Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        let slot = found.entry(stem.to_owned()).or_default();
        match ext {
            "crt" | "pem" => slot.0 = Some(path.clone()),
            "key" => slot.1 = Some(path.clone()),
            _ => {}
        }
    }
    let mut pairs = Vec::with_capacity(found.len());
    for (stem, files) in found {
        match files {
            (Some(cert), Some(key)) => pairs.push(Pair { stem, cert, key }),
            (Some(_), None) => bail!("{stem}: certificate without {stem}.key"),
            (None, Some(_)) => bail!("{stem}: key without {stem}.crt"),
            (None, None) => {}
        }
    }
    Ok(pairs)
}

fn prepare_all(
    pairs: &[Pair],
    template: &serde_json::Value,
    master: &MasterKey,
    now: OffsetDateTime,
    threads: usize,
) -> anyhow::Result<Vec<(StoredCertificate, DomainConfig)>> {
    let chunk = pairs.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<anyhow::Result<Vec<_>>> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| prepare(p, template, master, now))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a validation thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(pairs.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// Validates one pair, seals its key and builds its domain.
fn prepare(
    p: &Pair,
    template: &serde_json::Value,
    master: &MasterKey,
    now: OffsetDateTime,
) -> anyhow::Result<(StoredCertificate, DomainConfig)> {
    let what = || format!("{}", p.cert.display());
    let domain_text = match p.stem.strip_prefix("_.") {
        Some(rest) => format!("*.{rest}"),
        None => p.stem.clone(),
    };
    let domain = DomainName::parse(&domain_text)
        .map_err(|e| anyhow::anyhow!("{}: {}", what(), e.message))?;
    let name =
        CertName::parse(&p.stem).map_err(|e| anyhow::anyhow!("{}: {}", what(), e.message))?;
    let cert_pem = std::fs::read_to_string(&p.cert).with_context(what)?;
    let key_pem =
        Wiped(std::fs::read_to_string(&p.key).with_context(|| format!("{}", p.key.display()))?);
    let record =
        tlsedge_certs::intake(&name, &cert_pem, &key_pem.0, master, now).map_err(|e| match e {
            IntakeError::Invalid(e) => {
                anyhow::anyhow!("{}: {} ({})", what(), e.message, e.code.as_str())
            }
            other => anyhow::anyhow!("{}: {other}", what()),
        })?;
    let sans = record
        .meta
        .as_ref()
        .map(|m| m.sans.as_slice())
        .unwrap_or_default();
    if !record.meta.as_ref().is_some_and(|m| m.covers(&domain)) {
        bail!(
            "{}: the certificate does not cover {domain} (its names: {})",
            what(),
            sans.join(", ")
        );
    }
    let mut value = template.clone();
    if let Some(o) = value.as_object_mut() {
        o.insert("name".into(), domain.as_str().into());
        let https = o.entry("https").or_insert_with(|| serde_json::json!({}));
        if let Some(h) = https.as_object_mut() {
            h.insert("enabled".into(), true.into());
            h.insert("certificate".into(), name.as_str().into());
        }
    }
    let cfg: DomainConfig =
        serde_json::from_value(value).map_err(|e| match ValidationError::of_json(&e) {
            Some(refusal) => anyhow::anyhow!("{domain}: {}", refusal.message),
            None => anyhow::anyhow!("domain.json does not make a valid domain for {domain}: {e}"),
        })?;
    Ok((record, cfg))
}

/// A string wiped from memory when dropped (private-key PEM text).
struct Wiped(String);

impl Drop for Wiped {
    fn drop(&mut self) {
        // Overwrite in place; no reallocation happened since it was read.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        for b in bytes.iter_mut() {
            *b = 0;
        }
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: ImportArgs,
    }

    fn origin_template(origin: &str) -> Result<serde_json::Value, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = dir.path().to_str().ok_or("temporary path")?;
        let cmd = Cmd::try_parse_from(["import", "--dir", dir, "--origin", origin])
            .map_err(|e| e.to_string())?;
        template(&cmd.args).map_err(|e| e.to_string())
    }

    /// `--origin` reads as `domain add --origin` does: brackets for IPv6, port 80 by default.
    #[test]
    fn the_origin_is_parsed_as_the_cli_parses_it() {
        for (arg, address, port) in [
            ("10.0.0.5:8080", "10.0.0.5", 8080),
            ("origin.example.com", "origin.example.com", 80),
            ("[::1]:8080", "::1", 8080),
            ("2001:db8::5", "2001:db8::5", 80),
        ] {
            let v = origin_template(arg).unwrap();
            assert_eq!(
                v["origins"],
                json!([{"address": address, "http_port": port}]),
                "{arg}"
            );
        }
        for bad in ["h:0", "http://h:80", "[::1", "a:b:c", ""] {
            let err = origin_template(bad).unwrap_err();
            assert!(err.contains("--origin"), "{bad}: {err}");
        }
    }
}
