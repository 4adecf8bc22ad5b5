//! Accelerated domains and their HTTPS settings.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use tlsedge_api::{DomainList, HttpsPatch, HttpsView, UsageReport};
use tlsedge_model::{CertName, DomainConfig, DomainName, ErrorCode};
use tlsedge_store::{Op, State as StoreState};

use crate::certificates::{check_servable, info, seal_upload};
use crate::error::ApiError;
use crate::extract::{json_error, ApiJson, ApiQuery, Name};
use crate::state::AdminState;
use crate::write::write;

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/domains", post(create).get(list))
        .route("/domains/{name}", get(show).put(replace).delete(delete))
        .route("/domains/{name}/https", get(show_https).put(set_https))
        .route("/domains/{name}/usage", get(usage))
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

async fn create(
    State(s): State<Arc<AdminState>>,
    ApiJson(cfg): ApiJson<DomainConfig>,
) -> Result<(StatusCode, Json<DomainConfig>), ApiError> {
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

async fn list(State(s): State<Arc<AdminState>>) -> Json<DomainList> {
    let st = s.store.state();
    let domains = st.domains.values().map(|d| (**d).clone()).collect();
    Json(DomainList { domains })
}

async fn show(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<DomainName>,
) -> Result<Json<DomainConfig>, ApiError> {
    Ok(Json((*get_domain(&s.store.state(), &name)?).clone()))
}

async fn replace(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<DomainName>,
    ApiJson(value): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<Json<DomainConfig>, ApiError> {
    // A body without "https" keeps the domain's HTTPS settings, as they are at the revision the
    // write commits on: replacing the origins must not silently turn HTTPS off.
    let keeps_https = !value.contains_key("https");
    let body: DomainConfig =
        serde_json::from_value(serde_json::Value::Object(value)).map_err(json_error)?;
    if body.name != name {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the body names {} but the path {name}", body.name),
        )
        .field("name"));
    }
    let (_, cfg) = write(&s, |st| {
        let current = get_domain(st, &name)?;
        let cfg = if keeps_https {
            body.clone().with_https(current.https.clone())?
        } else {
            body.clone()
        };
        check_https(st, &cfg)?;
        let mut ops = Vec::new();
        if let Some(prev) = &current.https.certificate {
            let keep = cfg.https.certificate.as_ref().filter(|_| cfg.https.enabled);
            if keep != Some(prev) {
                ops.extend(private_cert_of(st, &name, prev));
            }
        }
        ops.push(Op::PutDomain(cfg.clone()));
        Ok((ops, cfg))
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
    Name(name): Name<DomainName>,
) -> Result<StatusCode, ApiError> {
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
fn https_view(st: &StoreState, cfg: &DomainConfig) -> HttpsView {
    let certificate_info = cfg
        .https
        .certificate
        .as_ref()
        .and_then(|c| st.certificates.get(c))
        .map(|c| info(st, c, OffsetDateTime::now_utc()));
    HttpsView {
        https: cfg.https.clone(),
        certificate_info,
    }
}

async fn show_https(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<DomainName>,
) -> Result<Json<HttpsView>, ApiError> {
    let st = s.store.state();
    let cfg = get_domain(&st, &name)?;
    Ok(Json(https_view(&st, &cfg)))
}

/// The name under which a certificate uploaded through one domain's HTTPS settings is kept.
fn private_cert_name(domain: &DomainName) -> Result<CertName, ApiError> {
    CertName::parse(&format!("{}.private", domain.as_str().replace('*', "_")))
        .map_err(ApiError::from)
}

/// `PUT /domains/{name}/https`: applies the patch over the current settings (see
/// [`HttpsPatch`]), with an optional certificate private to the domain.
async fn set_https(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<DomainName>,
    ApiJson(patch): ApiJson<HttpsPatch>,
) -> Result<Json<HttpsView>, ApiError> {
    let private = match (&patch.cert_pem, &patch.key_pem) {
        (None, None) => None,
        (Some(c), Some(k)) => {
            if matches!(patch.certificate, Some(Some(_))) {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "give either certificate or cert_pem/key_pem, not both",
                )
                .field("certificate"));
            }
            let cert_name = private_cert_name(&name)?;
            Some(seal_upload(&s, &cert_name, c, k, Some(name.clone()))?)
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
        let mut https = patch.apply(&current.https);
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
            if patch.enabled.is_none() {
                https.enabled = true;
            }
        }
        let mut cfg = (*current).clone().with_https(https)?;
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

#[derive(Deserialize)]
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

/// Requests and bytes of one domain, per minute, as this node counted them. Default window: the
/// last 24 hours. Only minutes with traffic are listed.
async fn usage(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<DomainName>,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> Result<Json<UsageReport>, ApiError> {
    get_domain(&s.store.state(), &name)?;
    let now = OffsetDateTime::now_utc();
    let to = rfc3339("to", q.to.as_deref(), now)?;
    // `to` is a client's date: the default window must not step below the calendar's start.
    let day_before = to
        .checked_sub(time::Duration::hours(24))
        .unwrap_or(time::PrimitiveDateTime::MIN.assume_utc());
    let from = rfc3339("from", q.from.as_deref(), day_before)?;
    if from >= to {
        return Err(
            ApiError::new(ErrorCode::InvalidRequest, "from must be before to").field("from"),
        );
    }
    let minutes = (s.usage)(name.as_str(), from.unix_timestamp(), to.unix_timestamp());
    Ok(Json(UsageReport::new(name, from, to, &minutes)))
}
