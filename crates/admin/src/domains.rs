//! Accelerated domains and their HTTPS settings.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use time::OffsetDateTime;
use tlsedge_model::{CertName, DomainConfig, DomainName, ErrorCode, HttpsConfig};
use tlsedge_store::{Op, State as StoreState};

use crate::certificates::{check_servable, info, seal_upload};
use crate::error::{json_error, parse_json, ApiError};
use crate::{body_error, write, AdminState};

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/domains", post(create).get(list))
        .route("/domains/{name}", get(show).put(replace).delete(delete))
        .route("/domains/{name}/https", get(show_https).put(set_https))
        .route("/domains/{name}/usage", get(usage))
}

fn lookup_name(s: &str) -> Result<DomainName, ApiError> {
    DomainName::parse(s).map_err(|_| ApiError::not_found("domain", s))
}

fn get_domain(st: &StoreState, name: &DomainName) -> Result<Arc<DomainConfig>, ApiError> {
    st.domains
        .get(name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("domain", name.as_str()))
}

/// The rules between a domain and its certificate: an enabled domain's certificate exists,
/// covers the name and is not waiting for a CSR to be signed.
fn check_https(st: &StoreState, cfg: &DomainConfig) -> Result<(), ApiError> {
    if !cfg.https.enabled {
        return Ok(());
    }
    let Some(name) = &cfg.https.certificate else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "enabling HTTPS needs a certificate",
        )
        .field("certificate"));
    };
    let cert = st
        .certificates
        .get(name)
        .ok_or_else(|| ApiError::not_found("certificate", name.as_str()).field("certificate"))?;
    if let Some(owner) = &cert.private_to {
        if owner != &cfg.name {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("certificate {:?} is private to {owner}", name.as_str()),
            )
            .field("certificate"));
        }
    }
    check_servable(cert, &cfg.name).map_err(|e| e.field("certificate"))
}

fn parse_domain(body: Result<Bytes, BytesRejection>) -> Result<DomainConfig, ApiError> {
    let mut cfg: DomainConfig = parse_json(&body.map_err(body_error)?)?;
    cfg.validate()?;
    Ok(cfg)
}

async fn create(
    State(s): State<Arc<AdminState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<DomainConfig>), ApiError> {
    let cfg = parse_domain(body)?;
    write(&s, |st| {
        if st.domains.contains_key(&cfg.name) {
            return Err(ApiError::new(
                ErrorCode::AlreadyExists,
                format!("domain {} already exists", cfg.name),
            )
            .field("name"));
        }
        check_https(st, &cfg)?;
        Ok((vec![Op::PutDomain(cfg.clone())], ()))
    })
    .await?;
    tracing::info!(domain = %cfg.name, "domain created");
    Ok((StatusCode::CREATED, Json(cfg)))
}

async fn list(State(s): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    let st = s.store.state();
    let domains: Vec<&DomainConfig> = st.domains.values().map(|d| &**d).collect();
    Json(serde_json::json!({ "domains": domains }))
}

async fn show(
    State(s): State<Arc<AdminState>>,
    Path(name): Path<String>,
) -> Result<Json<DomainConfig>, ApiError> {
    let name = lookup_name(&name)?;
    Ok(Json((*get_domain(&s.store.state(), &name)?).clone()))
}

async fn replace(
    State(s): State<Arc<AdminState>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DomainConfig>, ApiError> {
    let name = lookup_name(&name)?;
    // A body without "https" keeps the domain's HTTPS settings: replacing the origins must not
    // silently turn HTTPS off.
    let mut value: serde_json::Map<String, serde_json::Value> =
        parse_json(&body.map_err(body_error)?)?;
    if !value.contains_key("https") {
        if let Some(current) = s.store.state().domains.get(&name) {
            value.insert(
                "https".into(),
                serde_json::to_value(&current.https).map_err(ApiError::internal)?,
            );
        }
    }
    let mut cfg: DomainConfig =
        serde_json::from_value(serde_json::Value::Object(value)).map_err(json_error)?;
    cfg.validate()?;
    if cfg.name != name {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the body names {} but the path {name}", cfg.name),
        )
        .field("name"));
    }
    write(&s, |st| {
        let current = get_domain(st, &name)?;
        check_https(st, &cfg)?;
        let mut ops = Vec::new();
        if let Some(prev) = &current.https.certificate {
            let keep = cfg.https.certificate.as_ref().filter(|_| cfg.https.enabled);
            if keep != Some(prev) {
                ops.extend(private_cert_of(st, &name, prev));
            }
        }
        ops.push(Op::PutDomain(cfg.clone()));
        Ok((ops, ()))
    })
    .await?;
    tracing::info!(domain = %name, "domain replaced");
    Ok(Json(cfg))
}

/// The op deleting `cert` if it is private to `domain`.
fn private_cert_of(st: &StoreState, domain: &DomainName, cert: &CertName) -> Option<Op> {
    let c = st.certificates.get(cert)?;
    (c.private_to.as_ref() == Some(domain)).then(|| Op::DeleteCertificate(cert.clone()))
}

async fn delete(
    State(s): State<Arc<AdminState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = lookup_name(&name)?;
    write(&s, |st| {
        let current = get_domain(st, &name)?;
        let mut ops = vec![Op::DeleteDomain(name.clone())];
        if let Some(c) = &current.https.certificate {
            ops.extend(private_cert_of(st, &name, c));
        }
        Ok((ops, ()))
    })
    .await?;
    tracing::info!(domain = %name, "domain deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `HttpsConfig` plus `certificate_info`, as `GET /domains/{name}/https` answers.
fn https_view(st: &StoreState, cfg: &DomainConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(&cfg.https).unwrap_or_default();
    let info = cfg
        .https
        .certificate
        .as_ref()
        .and_then(|c| st.certificates.get(c))
        .map(|c| info(st, c, OffsetDateTime::now_utc()));
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "certificate_info".into(),
            serde_json::to_value(info).unwrap_or_default(),
        );
    }
    v
}

async fn show_https(
    State(s): State<Arc<AdminState>>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = lookup_name(&name)?;
    let st = s.store.state();
    let cfg = get_domain(&st, &name)?;
    Ok(Json(https_view(&st, &cfg)))
}

/// The name under which a certificate uploaded through one domain's HTTPS settings is kept.
fn private_cert_name(domain: &DomainName) -> Result<CertName, ApiError> {
    CertName::parse(&format!("{}.private", domain.as_str().replace('*', "_")))
        .map_err(ApiError::from)
}

/// Applies the fields present in `patch` over `current`: the HTTPS settings are changed, not
/// replaced, so `{"enabled": false}` alone keeps the redirect and HSTS settings it depends on
/// (and is refused while they need HTTPS). `hsts` merges the same way one level down.
fn merge_https(
    current: &HttpsConfig,
    patch: serde_json::Map<String, serde_json::Value>,
) -> Result<HttpsConfig, ApiError> {
    let mut base = serde_json::to_value(current).map_err(ApiError::internal)?;
    if let Some(obj) = base.as_object_mut() {
        for (k, v) in patch {
            match (k.as_str(), obj.get_mut("hsts"), v) {
                ("hsts", Some(serde_json::Value::Object(h)), serde_json::Value::Object(p)) => {
                    h.extend(p)
                }
                (_, _, v) => {
                    obj.insert(k, v);
                }
            }
        }
    }
    serde_json::from_value(base).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("invalid HTTPS settings: {e}"),
        )
    })
}

async fn set_https(
    State(s): State<Arc<AdminState>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = lookup_name(&name)?;
    let mut patch: serde_json::Map<String, serde_json::Value> =
        parse_json(&body.map_err(body_error)?)?;
    let take_str = |patch: &mut serde_json::Map<String, serde_json::Value>,
                    k: &str|
     -> Result<Option<String>, ApiError> {
        match patch.remove(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("{k} must be a string"),
            )
            .field(k)),
        }
    };
    let cert_pem = take_str(&mut patch, "cert_pem")?;
    let key_pem = take_str(&mut patch, "key_pem")?;
    let private = match (cert_pem, key_pem) {
        (None, None) => None,
        (Some(c), Some(k)) => {
            if patch.get("certificate").is_some_and(|c| !c.is_null()) {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "give either certificate or cert_pem/key_pem, not both",
                )
                .field("certificate"));
            }
            let cert_name = private_cert_name(&name)?;
            Some(seal_upload(&s, &cert_name, &c, &k, Some(name.clone()))?)
        }
        (Some(_), None) => {
            return Err(
                ApiError::new(ErrorCode::InvalidRequest, "cert_pem needs key_pem").field("key_pem"),
            )
        }
        (None, Some(_)) => {
            return Err(
                ApiError::new(ErrorCode::InvalidRequest, "key_pem needs cert_pem")
                    .field("cert_pem"),
            )
        }
    };
    let (_, view) = write(&s, |st| {
        let current = get_domain(st, &name)?;
        let mut https = merge_https(&current.https, patch.clone())?;
        let mut ops = Vec::new();
        if let Some(p) = &private {
            if let Some(existing) = st.certificates.get(&p.name) {
                if existing.private_to.as_ref() != Some(&name) {
                    return Err(ApiError::new(
                        ErrorCode::AlreadyExists,
                        format!("a certificate named {:?} exists already", p.name.as_str()),
                    ));
                }
            }
            https.certificate = Some(p.name.clone());
            if !patch.contains_key("enabled") {
                https.enabled = true;
            }
        }
        https.validate()?;
        let mut cfg = (*current).clone();
        cfg.https = https;
        let state_with_private;
        let check_in = match &private {
            Some(p) => {
                state_with_private = st.apply(st.revision, &[Op::PutCertificate(p.clone())]);
                &state_with_private
            }
            None => st,
        };
        check_https(check_in, &cfg)?;
        if let Some(p) = &private {
            ops.push(Op::PutCertificate(p.clone()));
        }
        if let Some(prev) = &current.https.certificate {
            if !cfg.https.enabled || cfg.https.certificate.as_ref() != Some(prev) {
                ops.extend(private_cert_of(st, &name, prev));
                if !cfg.https.enabled && private_cert_of(st, &name, prev).is_some() {
                    cfg.https.certificate = None;
                }
            }
        }
        let view_state = check_in.apply(st.revision, &[Op::PutDomain(cfg.clone())]);
        let view = https_view(&view_state, &cfg);
        ops.push(Op::PutDomain(cfg));
        Ok((ops, view))
    })
    .await?;
    tracing::info!(domain = %name, "HTTPS settings changed");
    Ok(Json(view))
}

#[derive(serde::Deserialize)]
pub(crate) struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
}

fn rfc3339(
    field: &str,
    v: Option<&str>,
    default: OffsetDateTime,
) -> Result<OffsetDateTime, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("{field} is not an RFC 3339 time: {e}"),
                )
                .field(field)
            }),
    }
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Requests and bytes of one domain, per minute, as this node counted them. Default window: the
/// last 24 hours. Only minutes with traffic are listed.
async fn usage(
    State(s): State<Arc<AdminState>>,
    Path(name): Path<String>,
    q: Result<axum::extract::Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = lookup_name(&name)?;
    let axum::extract::Query(q) = q.map_err(crate::query_error)?;
    get_domain(&s.store.state(), &name)?;
    let now = OffsetDateTime::now_utc();
    let to = rfc3339("to", q.to.as_deref(), now)?;
    let from = rfc3339("from", q.from.as_deref(), to - time::Duration::hours(24))?;
    if from >= to {
        return Err(
            ApiError::new(ErrorCode::InvalidRequest, "from must be before to").field("from"),
        );
    }
    let minutes = (s.usage)(name.as_str(), from.unix_timestamp(), to.unix_timestamp());
    let mut total = tlsedge_model::MinuteUsage::default();
    let list: Vec<serde_json::Value> = minutes
        .iter()
        .map(|m| {
            total.add(m);
            let start = OffsetDateTime::from_unix_timestamp(m.minute as i64 * 60)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            serde_json::json!({
                "start": stamp(start),
                "requests": {"http": m.http, "https": m.https, "http2": m.http2},
                "bytes_sent": m.bytes_sent,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "domain": name,
        "from": stamp(from),
        "to": stamp(to),
        "requests": {"http": total.http, "https": total.https, "http2": total.http2},
        "bytes_sent": total.bytes_sent,
        "cache": {"hit": 0, "miss": 0},
        "minutes": list,
    })))
}
