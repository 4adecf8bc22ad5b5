//! The certificate center: upload, replace, list, show, delete, deploy, stats.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use tlsedge_api::{
    CertificateList, CertificateStats, DeployRequest, DomainNames, ReplaceRequest, UploadRequest,
    MAX_WINDOW_DAYS,
};
use tlsedge_certs::IntakeError;
use tlsedge_model::{
    CertName, CertStatus, CertificateInfo, DomainName, ErrorCode, StoredCertificate,
};
use tlsedge_store::{Op, State as StoreState};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Name};
use crate::state::AdminState;
use crate::write::write;

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/certificates", post(upload).get(list))
        .route(
            "/certificates/{name}",
            get(show).put(replace).delete(delete),
        )
        .route("/certificates/{name}/domains", get(domains_of))
        .route("/certificates/{name}/deploy", post(deploy))
        .route("/stats/certificates", get(stats))
}

/// `GET /certificates?expiring_within_days=N`. Numbers are read as text so that every bad value
/// (not a number, negative, too large) is refused naming the parameter (see [`horizon`]).
#[derive(Deserialize)]
pub(crate) struct ListQuery {
    expiring_within_days: Option<String>,
}

/// `GET /stats/certificates?within_days=N`, read as [`ListQuery`] is.
#[derive(Deserialize)]
pub(crate) struct StatsQuery {
    within_days: Option<String>,
}

/// `now` plus the window a request asked for, in days from 0 to [`MAX_WINDOW_DAYS`]; anything
/// else is 400 `InvalidRequest` with `field` naming the parameter. The date arithmetic is
/// checked, so no request value can overflow it.
pub(crate) fn horizon(
    now: OffsetDateTime,
    field: &str,
    raw: &str,
) -> Result<OffsetDateTime, ApiError> {
    let refuse = || {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("{field} must be a whole number of days from 0 to {MAX_WINDOW_DAYS}"),
        )
        .field(field)
    };
    let days: u32 = raw.parse().map_err(|_| refuse())?;
    if days > MAX_WINDOW_DAYS {
        return Err(refuse());
    }
    now.checked_add(Duration::days(i64::from(days)))
        .ok_or_else(refuse)
}

/// The public view of a certificate in `state`.
pub(crate) fn info(
    state: &StoreState,
    cert: &StoredCertificate,
    now: OffsetDateTime,
) -> CertificateInfo {
    CertificateInfo::new(cert, state.domains_serving(&cert.name), now)
}

fn cert_name(s: &str) -> Result<CertName, ApiError> {
    CertName::parse(s).map_err(ApiError::from)
}

/// A certificate through the one intake (validated, key sealed under the master key), owned
/// by `private_to` when it is a domain's private certificate.
pub(crate) fn seal_upload(
    s: &AdminState,
    name: &CertName,
    cert_pem: &str,
    key_pem: &str,
    private_to: Option<DomainName>,
) -> Result<StoredCertificate, ApiError> {
    let mut record = tlsedge_certs::intake(
        name,
        cert_pem,
        key_pem,
        &s.master_key,
        OffsetDateTime::now_utc(),
    )
    .map_err(intake_error)?;
    record.private_to = private_to;
    Ok(record)
}

/// A refusal keeps its code and field; a sealing failure is the server's.
fn intake_error(e: IntakeError) -> ApiError {
    match e {
        IntakeError::Invalid(refusal) => ApiError::from(refusal),
        other => ApiError::internal(other),
    }
}

/// Refuses a certificate that does not cover `domain`, or cannot be served yet.
pub(crate) fn check_servable(
    cert: &StoredCertificate,
    domain: &DomainName,
) -> Result<(), ApiError> {
    let Some(meta) = &cert.meta else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "certificate {:?} waits for its signed certificate (pending CSR)",
                cert.name.as_str()
            ),
        )
        .field("certificate"));
    };
    Ok(meta.check_covers(&cert.name, domain, "domains")?)
}

async fn upload(
    State(s): State<Arc<AdminState>>,
    ApiJson(req): ApiJson<UploadRequest>,
) -> Result<(StatusCode, Json<CertificateInfo>), ApiError> {
    let name = cert_name(&req.name)?;
    if s.store.state().certificates.contains_key(&name) {
        return Err(already_exists(&name));
    }
    let cert = seal_upload(&s, &name, &req.cert_pem, &req.key_pem, None)?;
    let (_, info) = write(&s, |st| {
        if st.certificates.contains_key(&name) {
            return Err(already_exists(&name));
        }
        let info = CertificateInfo::new(&cert, Vec::new(), OffsetDateTime::now_utc());
        Ok((vec![Op::PutCertificate(cert.clone())], info))
    })
    .await?;
    tracing::info!(certificate = %name, "certificate uploaded");
    Ok((StatusCode::CREATED, Json(info)))
}

fn already_exists(name: &CertName) -> ApiError {
    ApiError::new(
        ErrorCode::AlreadyExists,
        format!("certificate {:?} already exists", name.as_str()),
    )
    .field("name")
}

async fn replace(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<CertName>,
    ApiJson(req): ApiJson<ReplaceRequest>,
) -> Result<Json<CertificateInfo>, ApiError> {
    // The body `POST` takes is accepted: its `name` must be the path's.
    if let Some(body_name) = &req.name {
        if CertName::parse(body_name).ok().as_ref() != Some(&name) {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("the body names {body_name:?}, the path {name}: they must be the same"),
            )
            .field("name"));
        }
    }
    let Some(current) = s.store.state().certificates.get(&name).cloned() else {
        return Err(ApiError::not_found("certificate", name.as_str()));
    };
    let now = OffsetDateTime::now_utc();
    let new = match &req.key_pem {
        Some(key_pem) => seal_upload(
            &s,
            &name,
            &req.cert_pem,
            key_pem,
            current.private_to.clone(),
        )?,
        None => {
            // Keep the key the server holds (a CSR's, or a renewal on the same key).
            let mut record = tlsedge_certs::intake_with_sealed_key(
                &name,
                &req.cert_pem,
                &current.key,
                &s.master_key,
                now,
            )
            .map_err(intake_error)?;
            record.private_to = current.private_to.clone();
            record
        }
    };
    let (_, info) = write(&s, |st| {
        if !st.certificates.contains_key(&name) {
            return Err(ApiError::not_found("certificate", name.as_str()));
        }
        // Every domain that serves it must still be covered by the new one.
        for d in st.domains_serving(&name) {
            check_servable(&new, &d).map_err(|e| e.field("cert_pem"))?;
        }
        Ok((vec![Op::PutCertificate(new.clone())], info(st, &new, now)))
    })
    .await?;
    tracing::info!(certificate = %name, "certificate replaced");
    Ok(Json(info))
}

async fn list(
    State(s): State<Arc<AdminState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<CertificateList>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let horizon = q
        .expiring_within_days
        .as_deref()
        .map(|d| horizon(now, "expiring_within_days", d))
        .transpose()?;
    let st = s.store.state();
    let serving = st.serving_index();
    let certs: Vec<CertificateInfo> = st
        .certificates
        .values()
        .filter(|c| match (horizon, &c.meta) {
            (None, _) => true,
            (Some(h), Some(m)) => m.not_after >= now && m.not_after <= h,
            (Some(_), None) => false,
        })
        .map(|c| CertificateInfo::new(c, serving.get(&c.name).cloned().unwrap_or_default(), now))
        .collect();
    Ok(Json(CertificateList {
        certificates: certs,
    }))
}

async fn show(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<CertName>,
) -> Result<Json<CertificateInfo>, ApiError> {
    let st = s.store.state();
    let cert = st
        .certificates
        .get(&name)
        .ok_or_else(|| ApiError::not_found("certificate", name.as_str()))?;
    Ok(Json(info(&st, cert, OffsetDateTime::now_utc())))
}

async fn domains_of(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<CertName>,
) -> Result<Json<DomainNames>, ApiError> {
    let st = s.store.state();
    if !st.certificates.contains_key(&name) {
        return Err(ApiError::not_found("certificate", name.as_str()));
    }
    Ok(Json(DomainNames {
        domains: st.domains_serving(&name),
    }))
}

async fn delete(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<CertName>,
) -> Result<StatusCode, ApiError> {
    write(&s, |st| {
        if !st.certificates.contains_key(&name) {
            return Err(ApiError::not_found("certificate", name.as_str()));
        }
        let serving = st.domains_serving(&name);
        if !serving.is_empty() {
            let list: Vec<&str> = serving.iter().map(DomainName::as_str).collect();
            return Err(ApiError::new(
                ErrorCode::CertificateInUse,
                format!("certificate {:?} is served by {}; move those domains to another certificate or disable their HTTPS first", name.as_str(), list.join(", ")),
            ));
        }
        // Domains with HTTPS off may still name it: forget the reference with the certificate.
        let mut ops = vec![Op::DeleteCertificate(name.clone())];
        for d in st.domains_referencing(&name) {
            if let Some(cfg) = st.domains.get(&d) {
                let mut https = cfg.https.clone();
                https.certificate = None;
                ops.push(Op::PutDomain((**cfg).clone().with_https(https)?));
            }
        }
        Ok((ops, ()))
    })
    .await?;
    tracing::info!(certificate = %name, "certificate deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn deploy(
    State(s): State<Arc<AdminState>>,
    Name(name): Name<CertName>,
    ApiJson(req): ApiJson<DeployRequest>,
) -> Result<Json<DomainNames>, ApiError> {
    if req.domains.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "domains must name at least one domain",
        )
        .field("domains"));
    }
    let mut names = Vec::with_capacity(req.domains.len());
    for d in &req.domains {
        names.push(DomainName::parse(d).map_err(|e| ApiError::from(e).field("domains"))?);
    }
    names.sort();
    names.dedup();
    let (_, deployed) = write(&s, |st| {
        let cert = st
            .certificates
            .get(&name)
            .ok_or_else(|| ApiError::not_found("certificate", name.as_str()))?;
        if cert.private_to.is_some() {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "certificate {:?} is private to one domain and cannot be deployed",
                    name.as_str()
                ),
            ));
        }
        let status = cert.status(OffsetDateTime::now_utc());
        if status != CertStatus::Valid {
            return Err(ApiError::new(
                if status == CertStatus::Expired {
                    ErrorCode::CertificateExpired
                } else {
                    ErrorCode::InvalidRequest
                },
                format!(
                    "certificate {:?} cannot be deployed: it is {status:?}",
                    name.as_str()
                ),
            ));
        }
        let mut ops = Vec::new();
        for d in &names {
            let cfg = st
                .domains
                .get(d)
                .ok_or_else(|| ApiError::not_found("domain", d.as_str()).field("domains"))?;
            check_servable(cert, d)?;
            let mut https = cfg.https.clone();
            let previous = https.certificate.replace(name.clone());
            https.enabled = true;
            ops.extend(drop_private_cert(st, d, previous.as_ref(), &name));
            ops.push(Op::PutDomain((**cfg).clone().with_https(https)?));
        }
        Ok((ops, names.clone()))
    })
    .await?;
    tracing::info!(certificate = %name, domains = deployed.len(), "certificate deployed");
    Ok(Json(DomainNames { domains: deployed }))
}

/// When a domain stops using a certificate private to it, that certificate (and its key) goes.
pub(crate) fn drop_private_cert(
    st: &StoreState,
    domain: &DomainName,
    previous: Option<&CertName>,
    next: &CertName,
) -> Option<Op> {
    let prev = previous.filter(|p| *p != next)?;
    let cert = st.certificates.get(prev)?;
    (cert.private_to.as_ref() == Some(domain)).then(|| Op::DeleteCertificate(prev.clone()))
}

async fn stats(
    State(s): State<Arc<AdminState>>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<CertificateStats>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let horizon = horizon(now, "within_days", q.within_days.as_deref().unwrap_or("30"))?;
    let st = s.store.state();
    let (mut expired, mut expiring) = (0usize, 0usize);
    for c in st.certificates.values() {
        if let Some(m) = &c.meta {
            if m.not_after < now {
                expired += 1;
            } else if m.not_after <= horizon {
                expiring += 1;
            }
        }
    }
    Ok(Json(CertificateStats {
        total: st.certificates.len(),
        expired,
        expiring,
    }))
}
