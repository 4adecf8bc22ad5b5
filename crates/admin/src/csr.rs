//! `POST /api/v1/csrs`: a key generated and kept server-side (sealed like every key), and a
//! CSR to take to a CA. The certificate stays `pending_csr` until `PUT /certificates/{name}`
//! brings the signed certificate, which must match the key.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tlsedge_api::{CsrRequest, CsrResponse};
use tlsedge_certs::{KeyFormat, KeyMaterial};
use tlsedge_model::{CertName, DomainName, ErrorCode, StoredCertificate};
use tlsedge_store::Op;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AdminState;
use crate::write::write;

fn invalid(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg).field(field)
}

fn generate_key(key_type: &str) -> Result<rcgen::KeyPair, ApiError> {
    use rcgen::{KeyPair, RsaKeySize};
    let key = match key_type {
        "ecdsa-p256" => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        "ecdsa-p384" => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        "rsa-2048" => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        "rsa-3072" => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        "rsa-4096" => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
        other => {
            return Err(invalid(
                "key_type",
                format!("key_type {other:?} is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096"),
            ))
        }
    };
    key.map_err(ApiError::internal)
}

/// The CSR's parameters, checked.
fn params(req: &CsrRequest) -> Result<rcgen::CertificateParams, ApiError> {
    use rcgen::DnType;
    let cn = req.common_name.trim();
    if cn.is_empty() || cn.len() > 64 {
        return Err(invalid(
            "common_name",
            "common_name must be 1 to 64 characters",
        ));
    }
    let mut sans = Vec::new();
    for s in &req.sans {
        sans.push(
            DomainName::parse(s)
                .map_err(|e| ApiError::from(e).field("sans"))?
                .to_string(),
        );
    }
    if sans.is_empty() {
        // Clients look at SANs only: a CN that is a host name becomes the one SAN.
        sans.push(
            DomainName::parse(cn)
                .map_err(|e| ApiError::from(e).field("common_name"))?
                .to_string(),
        );
    }
    let mut p = rcgen::CertificateParams::new(sans)
        .map_err(|e| invalid("sans", format!("invalid SAN: {e}")))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
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
    if let Some(c) = text("country", &req.country)? {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(invalid(
                "country",
                "country must be a two-letter code such as \"DE\"",
            ));
        }
        dn.push(DnType::CountryName, c.to_ascii_uppercase());
    }
    for (field, v, ty) in [
        ("organization", &req.organization, DnType::OrganizationName),
        (
            "organizational_unit",
            &req.organizational_unit,
            DnType::OrganizationalUnitName,
        ),
        ("state", &req.state, DnType::StateOrProvinceName),
        ("city", &req.city, DnType::LocalityName),
    ] {
        if let Some(s) = text(field, v)? {
            dn.push(ty, s);
        }
    }
    if let Some(e) = text("email", &req.email)? {
        if !e.contains('@') {
            return Err(invalid("email", "email must be an address"));
        }
        dn.push(DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]), e);
    }
    p.distinguished_name = dn;
    Ok(p)
}

pub(crate) async fn create(
    State(s): State<Arc<AdminState>>,
    ApiJson(req): ApiJson<CsrRequest>,
) -> Result<(StatusCode, Json<CsrResponse>), ApiError> {
    let name = CertName::parse(&req.name)?;
    let params = params(&req)?;
    if s.store.state().certificates.contains_key(&name) {
        return Err(ApiError::new(
            ErrorCode::AlreadyExists,
            format!("certificate {:?} already exists", name.as_str()),
        )
        .field("name"));
    }
    let key_type = req.key_type.as_deref().unwrap_or("ecdsa-p256").to_owned();
    // Key generation (RSA 4096 takes a while) runs off the async workers.
    let (key, csr_pem) =
        tokio::task::spawn_blocking(move || -> Result<(KeyMaterial, String), ApiError> {
            let kp = generate_key(&key_type)?;
            let csr = params.serialize_request(&kp).map_err(ApiError::internal)?;
            let pem = csr.pem().map_err(ApiError::internal)?;
            let der = kp.serialize_der();
            let key = KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &der)
                .ok_or_else(|| ApiError::internal("generated key does not encode"))?;
            Ok((key, pem))
        })
        .await
        .map_err(ApiError::internal)??;
    let sealed = s.master_key.seal(&name, &key).map_err(ApiError::internal)?;
    let record = StoredCertificate {
        name: name.clone(),
        cert_pem: String::new(),
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
