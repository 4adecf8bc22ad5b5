//! `POST /api/v1/csrs`: a key generated and kept server-side (sealed like every key), and a
//! CSR to take to a CA. The certificate stays `pending_csr` until `PUT /certificates/{name}`
//! brings the signed certificate, which must match the key.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tlsedge_api::{CsrRequest, CsrResponse};
use tlsedge_certs::{CsrError, CsrSubject, GENERATED_KEY_TYPES};
use tlsedge_model::{CertChain, CertName, DomainName, ErrorCode, KeyType, StoredCertificate};
use tlsedge_store::Op;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AdminState;
use crate::write::write;

fn invalid(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg).field(field)
}

/// The requested key type: `ecdsa-p256` when none is named, else one the certificate crate
/// generates.
fn key_type(req: &CsrRequest) -> Result<KeyType, ApiError> {
    let Some(text) = req.key_type.as_deref() else {
        return Ok(KeyType::EcdsaP256);
    };
    text.parse::<KeyType>()
        .ok()
        .filter(|kt| GENERATED_KEY_TYPES.contains(kt))
        .ok_or_else(|| {
            invalid(
                "key_type",
                format!("key_type {text:?} is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096"),
            )
        })
}

/// The CSR's subject, checked field by field.
fn subject(req: &CsrRequest) -> Result<CsrSubject, ApiError> {
    let cn = req.common_name.trim();
    if cn.is_empty() || cn.len() > 64 {
        return Err(invalid(
            "common_name",
            "common_name must be 1 to 64 characters",
        ));
    }
    let mut sans = Vec::new();
    for s in &req.sans {
        sans.push(DomainName::parse(s).map_err(|e| ApiError::from(e).field("sans"))?);
    }
    if sans.is_empty() {
        // Clients look at SANs only: a CN that is a host name becomes the one SAN.
        sans.push(DomainName::parse(cn).map_err(|e| ApiError::from(e).field("common_name"))?);
    }
    let text = |field: &str, v: &Option<String>| -> Result<Option<String>, ApiError> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) if s.len() > 128 || s.chars().any(char::is_control) => Err(invalid(
                field,
                format!("{field} must be at most 128 printable characters"),
            )),
            Some(s) => Ok(Some(s.to_owned())),
        }
    };
    let country = match text("country", &req.country)? {
        Some(c) if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            return Err(invalid(
                "country",
                "country must be a two-letter code such as \"DE\"",
            ));
        }
        c => c.map(|c| c.to_ascii_uppercase()),
    };
    let organization = text("organization", &req.organization)?;
    let organizational_unit = text("organizational_unit", &req.organizational_unit)?;
    let state = text("state", &req.state)?;
    let city = text("city", &req.city)?;
    let email = text("email", &req.email)?;
    if email.as_ref().is_some_and(|e| !e.contains('@')) {
        return Err(invalid("email", "email must be an address"));
    }
    Ok(CsrSubject {
        common_name: cn.to_owned(),
        sans,
        country,
        organization,
        organizational_unit,
        state,
        city,
        email,
    })
}

pub(crate) async fn create(
    State(s): State<Arc<AdminState>>,
    ApiJson(req): ApiJson<CsrRequest>,
) -> Result<(StatusCode, Json<CsrResponse>), ApiError> {
    let name = CertName::parse(&req.name)?;
    let subject = subject(&req)?;
    if s.store.state().certificates.contains_key(&name) {
        return Err(ApiError::new(
            ErrorCode::AlreadyExists,
            format!("certificate {:?} already exists", name.as_str()),
        )
        .field("name"));
    }
    let key_type = key_type(&req)?;
    // Key generation (RSA 4096 takes a while) runs off the async workers.
    let (key, csr_pem) =
        tokio::task::spawn_blocking(move || tlsedge_certs::generate_csr(&subject, key_type))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| match e {
                CsrError::InvalidSan(_) => invalid("sans", e.to_string()),
                other => ApiError::internal(other),
            })?;
    let sealed = s.master_key.seal(&name, &key).map_err(ApiError::internal)?;
    let record = StoredCertificate {
        name: name.clone(),
        chain: CertChain::default(),
        key: sealed,
        meta: None,
        private_to: None,
        csr_pem: Some(csr_pem.clone()),
    };
    write(&s, |st| {
        if st.certificates.contains_key(&name) {
            return Err(ApiError::new(
                ErrorCode::AlreadyExists,
                format!("certificate {:?} already exists", name.as_str()),
            )
            .field("name"));
        }
        Ok((vec![Op::PutCertificate(record.clone())], ()))
    })
    .await?;
    tracing::info!(certificate = %name, "CSR generated");
    Ok((StatusCode::CREATED, Json(CsrResponse { name, csr_pem })))
}
