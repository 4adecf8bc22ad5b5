//! The OpenAPI document served at `/api/v1/openapi.json`, generated from the wire types
//! (`tlsedge-api`) and the model's, the same types the handlers and the CLI use.

use axum::Json;
use tlsedge_api::{
    CertificateList, CertificateStats, CsrRequest, CsrResponse, DeployRequest, DomainList,
    DomainNames, ErrorBody, HttpsPatch, HttpsView, NodesReport, ReplaceRequest, UploadRequest,
    UsageReport,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "tlsedge admin API", version = "1", description = "Certificates, domains and HTTPS policy of a tlsedge node. \
        Every call but /healthz and /metrics needs `Authorization: Bearer <token>`. Errors are \
        `{\"error\": {\"code\", \"message\", \"field\"}}`. PUT /domains/{name}/https changes only the fields it carries."),
    components(schemas(
        tlsedge_model::DomainConfig, tlsedge_model::Origin, tlsedge_model::OriginProtocol, tlsedge_model::Priority,
        tlsedge_model::HttpsConfig, tlsedge_model::Hsts, tlsedge_model::ForceRedirect, tlsedge_model::TlsVersion,
        tlsedge_model::CertificateInfo, tlsedge_model::CertificateMeta, tlsedge_model::CertStatus, tlsedge_model::ErrorCode,
        UploadRequest, ReplaceRequest, DeployRequest, CsrRequest, CsrResponse, DomainNames, CertificateList,
        CertificateStats, DomainList, HttpsPatch, tlsedge_api::HstsPatch, HttpsView, UsageReport,
        tlsedge_api::RequestCounts, tlsedge_api::CacheCounts, tlsedge_api::UsageMinute, NodesReport,
        tlsedge_api::NodeReport, ErrorBody, tlsedge_api::ErrorDetail,
    )),
    paths(
        upload_certificate, list_certificates, get_certificate, replace_certificate, delete_certificate,
        certificate_domains, deploy_certificate, certificate_stats,
        create_csr, create_domain, list_domains, get_domain, replace_domain, delete_domain, get_https, set_https, domain_usage, nodes,
    ),
    modifiers(&Bearer),
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

// Path descriptions: the handlers live in `certificates` and `domains`; these stubs carry
// their documentation so the document is generated from code in one place.

#[utoipa::path(post, path = "/api/v1/certificates", request_body = UploadRequest,
    responses((status = 201, body = tlsedge_model::CertificateInfo), (status = 409, description = "AlreadyExists"),
              (status = 422, description = "InvalidPem, UnsupportedFormat, KeyMismatch, EncryptedKey, CertificateExpired, CertificateNotYetValid")))]
#[allow(dead_code)]
fn upload_certificate() {}

#[utoipa::path(get, path = "/api/v1/certificates", params(("expiring_within_days" = Option<u32>, Query, minimum = 0, maximum = 3650, description = "days; at most `MAX_WINDOW_DAYS`")),
    responses((status = 200, body = CertificateList), (status = 400, description = "InvalidRequest: `expiring_within_days` out of range", body = ErrorBody)))]
#[allow(dead_code)]
fn list_certificates() {}

#[utoipa::path(get, path = "/api/v1/certificates/{name}", params(("name" = String, Path)),
    responses((status = 200, body = tlsedge_model::CertificateInfo), (status = 404, description = "NotFound")))]
#[allow(dead_code)]
fn get_certificate() {}

#[utoipa::path(put, path = "/api/v1/certificates/{name}", params(("name" = String, Path)), request_body = ReplaceRequest,
    responses((status = 200, body = tlsedge_model::CertificateInfo), (status = 404, description = "NotFound"),
              (status = 422, description = "as upload, plus DomainNotCovered for a domain that serves it")))]
#[allow(dead_code)]
fn replace_certificate() {}

#[utoipa::path(delete, path = "/api/v1/certificates/{name}", params(("name" = String, Path)),
    responses((status = 204), (status = 404, description = "NotFound"), (status = 409, description = "CertificateInUse")))]
#[allow(dead_code)]
fn delete_certificate() {}

#[utoipa::path(get, path = "/api/v1/certificates/{name}/domains", params(("name" = String, Path)),
    responses((status = 200, body = DomainNames, description = "the domains that serve it")))]
#[allow(dead_code)]
fn certificate_domains() {}

#[utoipa::path(post, path = "/api/v1/certificates/{name}/deploy", params(("name" = String, Path)), request_body = DeployRequest,
    responses((status = 200, body = DomainNames, description = "the domains now bound"), (status = 422, description = "DomainNotCovered (all or nothing)")))]
#[allow(dead_code)]
fn deploy_certificate() {}

#[utoipa::path(get, path = "/api/v1/stats/certificates", params(("within_days" = Option<u32>, Query, minimum = 0, maximum = 3650, description = "days, default 30; at most `MAX_WINDOW_DAYS`")),
    responses((status = 200, body = CertificateStats), (status = 400, description = "InvalidRequest: `within_days` out of range", body = ErrorBody)))]
#[allow(dead_code)]
fn certificate_stats() {}

#[utoipa::path(post, path = "/api/v1/domains", request_body = tlsedge_model::DomainConfig,
    responses((status = 201, body = tlsedge_model::DomainConfig), (status = 409, description = "AlreadyExists"), (status = 422, description = "InvalidDomain, DomainNotCovered")))]
#[allow(dead_code)]
fn create_domain() {}

#[utoipa::path(get, path = "/api/v1/domains", responses((status = 200, body = DomainList)))]
#[allow(dead_code)]
fn list_domains() {}

#[utoipa::path(get, path = "/api/v1/domains/{name}", params(("name" = String, Path)),
    responses((status = 200, body = tlsedge_model::DomainConfig), (status = 404, description = "NotFound")))]
#[allow(dead_code)]
fn get_domain() {}

#[utoipa::path(put, path = "/api/v1/domains/{name}", params(("name" = String, Path)), request_body = tlsedge_model::DomainConfig,
    responses((status = 200, body = tlsedge_model::DomainConfig), (status = 404, description = "NotFound"), (status = 409, description = "HttpsDependency")))]
#[allow(dead_code)]
fn replace_domain() {}

#[utoipa::path(delete, path = "/api/v1/domains/{name}", params(("name" = String, Path)),
    responses((status = 204), (status = 404, description = "NotFound")))]
#[allow(dead_code)]
fn delete_domain() {}

#[utoipa::path(get, path = "/api/v1/domains/{name}/https", params(("name" = String, Path)),
    responses((status = 200, body = HttpsView)))]
#[allow(dead_code)]
fn get_https() {}

#[utoipa::path(put, path = "/api/v1/domains/{name}/https", params(("name" = String, Path)), request_body = HttpsPatch,
    responses((status = 200, body = HttpsView), (status = 409, description = "HttpsDependency"),
              (status = 422, description = "DomainNotCovered, and the upload codes when cert_pem/key_pem are given")))]
#[allow(dead_code)]
fn set_https() {}

#[utoipa::path(get, path = "/api/v1/nodes", responses((status = 200, body = NodesReport)))]
#[allow(dead_code)]
fn nodes() {}

#[utoipa::path(post, path = "/api/v1/csrs", request_body = CsrRequest,
    responses((status = 201, body = CsrResponse, description = "the key stays on the server; PUT /api/v1/certificates/{name} with the signed cert_pem (no key_pem) completes it"),
              (status = 409, description = "AlreadyExists")))]
#[allow(dead_code)]
fn create_csr() {}

#[utoipa::path(get, path = "/api/v1/domains/{name}/usage", params(("name" = String, Path), ("from" = Option<String>, Query, description = "RFC 3339; default: `to` minus 24 hours"), ("to" = Option<String>, Query, description = "RFC 3339; default: now")),
    responses((status = 200, body = UsageReport, description = "minutes with traffic, counted by this node; bytes_sent counts response body bytes"),
              (status = 404, description = "NotFound")))]
#[allow(dead_code)]
fn domain_usage() {}
