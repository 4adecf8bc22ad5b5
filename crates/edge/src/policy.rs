//! What the edge does with a request, decided from the request's domain and the connection it
//! came on, before any byte goes to an origin.
//!
//! [`decide`] is pure: it reads values built when the snapshot changed and nothing else, so
//! every rule of the README's policy is tested here without a socket.

use http::{Method, StatusCode, Uri};
use tlsedge_model::ForceRedirect;

use crate::respond::{Refusal, ServerAnswer};
use crate::scheme::Scheme;
use crate::snapshot::DomainRuntime;

/// The connection a request came on.
#[derive(Clone, Copy)]
pub(crate) enum Transport<'a> {
    /// A plain-HTTP connection.
    Plain,
    /// A TLS connection.
    Tls {
        /// The domain its handshake was made for (found by SNI).
        sni: &'a DomainRuntime,
        /// Whether ALPN chose HTTP/2 for it.
        http2: bool,
    },
}

impl Transport<'_> {
    /// The scheme of requests on this connection.
    pub(crate) fn scheme(self) -> Scheme {
        match self {
            Self::Plain => Scheme::Http,
            Self::Tls { .. } => Scheme::Https,
        }
    }
}

/// The form of a request's target (RFC 9112 §3.2, RFC 9113 §8.3.1): what it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A path: origin-form (`/p?q`), absolute-form (`http://h/p`) or HTTP/2's `:path`.
    Path,
    /// Asterisk-form (`*`): the server itself, not a resource; only `OPTIONS` may use it.
    Asterisk,
    /// Authority-form (`host:port`) outside `CONNECT`: no resource at all.
    Authority,
}

impl Target {
    /// The form of `uri`, read from what hyper already parsed (no allocation).
    pub(crate) fn of(uri: &Uri) -> Self {
        if uri.scheme().is_none() && uri.authority().is_some() {
            Self::Authority
        } else if uri.path() == "*" {
            Self::Asterisk
        } else {
            Self::Path
        }
    }
}

/// What the request's authority routes to in the snapshot.
#[derive(Clone, Copy)]
pub(crate) enum Route<'a> {
    /// No usable host: no Host header or authority, or an empty or over-long one.
    NoHost,
    /// More than one authority: two Host fields, or a Host that contradicts HTTP/2's
    /// `:authority` (see `authority`).
    Ambiguous,
    /// A host no domain answers.
    Unknown,
    /// A host and the domain that answers it.
    Domain(Routed<'a>),
}

/// A request's host and the domain that answers it.
#[derive(Clone, Copy)]
pub(crate) struct Routed<'a> {
    /// The domain.
    pub(crate) domain: &'a DomainRuntime,
    /// The request's host, lowercase, without port or trailing dot.
    pub(crate) host: &'a str,
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Forward it to the domain's origins.
    Forward,
    /// Send the client to the same URL on the other scheme.
    Redirect {
        /// The scheme to redirect to.
        to: Scheme,
        /// The domain's redirect status.
        status: StatusCode,
    },
    /// Answer it with a refusal of the domain's policy.
    Refuse(Refusal),
}

/// Decides what the edge does with a request of `method` for `target` whose host routes to
/// `route`, arrived on `transport`: the domain it is for and what its policy says, or the
/// answer to a request that no domain takes (which counts in no domain's usage).
///
/// The rules, in order:
/// - `CONNECT` is refused (405): the edge is no forward proxy.
/// - A request that is about no path is no domain's: `OPTIONS *` is answered about the server
///   (200 with `Allow`), any other method with `*` and any authority-form target is refused
///   (400). So none is redirected to a URL made of a `*` or proxied as `/`.
/// - No usable host is refused (400), an ambiguous one too (400), a host no domain answers
///   too (404).
/// - Over TLS: a domain that serves no HTTPS gets 421, and so does a domain other than the one
///   the handshake was made for, unless both serve the same certificate with the same TLS
///   versions (so a client never reaches a domain with a certificate or TLS versions it did not
///   agree to), and so does a domain with `http2: false` on an HTTP/2 connection (one a client
///   coalesced from another domain, or made before HTTP/2 was turned off). Then `https_to_http`
///   redirects to HTTP; anything else is forwarded.
/// - Over plain HTTP, for a domain with HTTPS enabled: `http_to_https` redirects to HTTPS and
///   `deny_http` is refused (403). Anything else is forwarded.
pub(crate) fn decide<'a>(
    method: &Method,
    target: Target,
    route: Route<'a>,
    transport: Transport<'_>,
) -> Result<(Routed<'a>, Action), ServerAnswer> {
    if *method == Method::CONNECT {
        return Err(Refusal::ConnectMethod.into());
    }
    match target {
        Target::Path => {}
        Target::Asterisk if *method == Method::OPTIONS => return Err(ServerAnswer::Options),
        Target::Asterisk | Target::Authority => return Err(Refusal::InvalidTarget.into()),
    }
    let routed = match route {
        Route::NoHost => return Err(Refusal::InvalidHost.into()),
        Route::Ambiguous => return Err(Refusal::AmbiguousHost.into()),
        Route::Unknown => return Err(Refusal::UnknownHost.into()),
        Route::Domain(r) => r,
    };
    Ok((routed, domain_policy(routed.domain, transport)))
}

/// The domain's HTTPS policy for a request that arrived on `transport`.
fn domain_policy(domain: &DomainRuntime, transport: Transport<'_>) -> Action {
    let https = &domain.config.https;
    match transport {
        Transport::Tls { sni, http2 } => {
            if !domain.serves_tls() {
                Action::Refuse(Refusal::HttpsNotEnabled)
            } else if !domain.accepts_connection_of(sni) {
                Action::Refuse(Refusal::OtherConnection)
            } else if http2 && !https.http2 {
                Action::Refuse(Refusal::Http2NotEnabled)
            } else if https.force_redirect == ForceRedirect::HttpsToHttp {
                Action::Redirect {
                    to: Scheme::Http,
                    status: domain.redirect_status,
                }
            } else {
                Action::Forward
            }
        }
        Transport::Plain if https.enabled => match https.force_redirect {
            ForceRedirect::HttpToHttps => Action::Redirect {
                to: Scheme::Https,
                status: domain.redirect_status,
            },
            ForceRedirect::DenyHttp => Action::Refuse(Refusal::HttpsRequired),
            ForceRedirect::Off | ForceRedirect::HttpsToHttp => Action::Forward,
        },
        Transport::Plain => Action::Forward,
    }
}

#[cfg(test)]
mod tests {
    //! Expected outcomes come from the README ("421 rule", CONNECT) and the API contract
    //! (`force_redirect`, `redirect_status`, unknown host), written as the statuses they name.

    use std::sync::Arc;

    use rustls::sign::{CertifiedKey, Signer, SigningKey};
    use rustls::{SignatureAlgorithm, SignatureScheme};
    use tlsedge_model::{
        CertName, DomainConfig, DomainName, HttpsConfig, RawDomainConfig, RawOrigin,
        RedirectStatus, TlsVersion,
    };

    use super::*;
    use crate::settings::EdgeSettings;
    use crate::snapshot::DomainInput;
    use crate::tls::{TlsFactory, TlsSettings};
    use crate::usage::UsageRegistry;

    /// A key that never signs: the policy only compares which certificate a domain serves.
    #[derive(Debug)]
    struct NoKey;

    impl SigningKey for NoKey {
        fn choose_scheme(&self, _: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
            None
        }
        fn algorithm(&self) -> SignatureAlgorithm {
            SignatureAlgorithm::ECDSA
        }
    }

    fn cert() -> Arc<CertifiedKey> {
        Arc::new(CertifiedKey::new(Vec::new(), Arc::new(NoKey)))
    }

    /// An HTTPS policy with a certificate, the given redirect and status, TLS 1.2 and 1.3.
    fn https(force_redirect: ForceRedirect, redirect_status: u16) -> HttpsConfig {
        HttpsConfig {
            enabled: true,
            certificate: Some(CertName::parse("c").unwrap()),
            force_redirect,
            redirect_status: RedirectStatus::from_u16(redirect_status).unwrap(),
            ..HttpsConfig::default()
        }
    }

    fn domain(
        name: &str,
        https: HttpsConfig,
        cert: Option<Arc<CertifiedKey>>,
    ) -> Arc<DomainRuntime> {
        let config = DomainConfig::try_from(RawDomainConfig {
            name: DomainName::parse(name).unwrap(),
            origins: vec![RawOrigin::new("127.0.0.1")],
            origin_protocol: Default::default(),
            origin_host: None,
            origin_sni: None,
            origin_verify_tls: true,
            origin_ca_pem: None,
            https,
        })
        .unwrap();
        let tls = TlsFactory::new(TlsSettings::default()).unwrap();
        let usage = UsageRegistry::default().of(name);
        let input = DomainInput {
            config: Arc::new(config),
            cert,
        };
        Arc::new(DomainRuntime::build(input, &tls, &EdgeSettings::default(), usage).unwrap())
    }

    /// A domain serving HTTPS with its own certificate and no redirect.
    fn tls_domain(name: &str) -> Arc<DomainRuntime> {
        domain(name, https(ForceRedirect::Off, 301), Some(cert()))
    }

    /// A domain with HTTPS off.
    fn plain_domain(name: &str) -> Arc<DomainRuntime> {
        domain(name, HttpsConfig::default(), None)
    }

    /// The status a refusal answers with, the status and scheme of a redirect, or 0 for
    /// forwarding.
    fn outcome(a: Action) -> (u16, Option<Scheme>) {
        match a {
            Action::Forward => (0, None),
            Action::Redirect { to, status } => (status.as_u16(), Some(to)),
            Action::Refuse(r) => (r.status().as_u16(), None),
        }
    }

    fn routed(d: &DomainRuntime) -> Route<'_> {
        Route::Domain(Routed {
            domain: d,
            host: "a.example.com",
        })
    }

    /// The outcome of a GET, which must reach the domain's policy.
    fn get(d: &DomainRuntime, t: Transport<'_>) -> (u16, Option<Scheme>) {
        match decide(&Method::GET, Target::Path, routed(d), t) {
            Ok((r, action)) => {
                assert!(std::ptr::eq(r.domain, d));
                outcome(action)
            }
            Err(refusal) => panic!("refused before reaching the domain: {refusal:?}"),
        }
    }

    /// The status of a request for a path refused before any domain took it.
    fn refused(method: Method, route: Route<'_>, t: Transport<'_>) -> u16 {
        match answered(method, Target::Path, route, t) {
            ServerAnswer::Refuse(refusal) => refusal.status().as_u16(),
            ServerAnswer::Options => panic!("answered as OPTIONS *"),
        }
    }

    /// What the edge answers itself for a request no domain takes.
    fn answered(
        method: Method,
        target: Target,
        route: Route<'_>,
        t: Transport<'_>,
    ) -> ServerAnswer {
        match decide(&method, target, route, t) {
            Err(answer) => answer,
            Ok((_, action)) => panic!("reached a domain: {action:?}"),
        }
    }

    const FORWARD: (u16, Option<Scheme>) = (0, None);

    /// An HTTP/1.1 connection made for `sni`.
    fn tls(sni: &DomainRuntime) -> Transport<'_> {
        Transport::Tls { sni, http2: false }
    }

    /// An HTTP/2 connection made for `sni`.
    fn h2(sni: &DomainRuntime) -> Transport<'_> {
        Transport::Tls { sni, http2: true }
    }

    #[test]
    fn connect_is_refused_whatever_the_domain() {
        let d = tls_domain("a.example.com");
        for t in [Transport::Plain, tls(&d)] {
            for route in [routed(&d), Route::Unknown, Route::NoHost] {
                assert_eq!(refused(Method::CONNECT, route, t), 405);
            }
        }
    }

    #[test]
    fn target_forms_are_read_from_the_parsed_uri() {
        for (uri, form) in [
            ("/p?q", Target::Path),
            ("http://a.example/p", Target::Path),
            ("https://a.example", Target::Path),
            ("*", Target::Asterisk),
            ("a.example:443", Target::Authority),
        ] {
            assert_eq!(Target::of(&uri.parse().unwrap()), form, "{uri}");
        }
    }

    #[test]
    fn options_asterisk_is_answered_about_the_server_on_both_schemes() {
        // The case of shared/cases: r.example redirects HTTP to HTTPS with 308.
        let r = domain(
            "r.example",
            https(ForceRedirect::HttpToHttps, 308),
            Some(cert()),
        );
        for t in [Transport::Plain, tls(&r), h2(&r)] {
            for route in [routed(&r), Route::Unknown, Route::NoHost] {
                assert_eq!(
                    answered(Method::OPTIONS, Target::Asterisk, route, t),
                    ServerAnswer::Options
                );
            }
        }
    }

    #[test]
    fn a_request_about_no_path_is_a_bad_request_unless_options_asterisk() {
        let r = domain(
            "r.example",
            https(ForceRedirect::HttpToHttps, 308),
            Some(cert()),
        );
        for t in [Transport::Plain, tls(&r)] {
            for method in [Method::GET, Method::POST, Method::DELETE, Method::TRACE] {
                assert_eq!(
                    answered(method, Target::Asterisk, routed(&r), t),
                    ServerAnswer::Refuse(Refusal::InvalidTarget)
                );
            }
            for method in [Method::GET, Method::OPTIONS] {
                assert_eq!(
                    answered(method, Target::Authority, routed(&r), t),
                    ServerAnswer::Refuse(Refusal::InvalidTarget)
                );
            }
            // CONNECT stays 405 whatever its target.
            assert_eq!(
                answered(Method::CONNECT, Target::Authority, routed(&r), t),
                ServerAnswer::Refuse(Refusal::ConnectMethod)
            );
        }
        // A path is the domain's: redirected as its policy says.
        assert_eq!(get(&r, Transport::Plain), (308, Some(Scheme::Https)));
    }

    #[test]
    fn a_request_without_a_usable_host_is_a_bad_request() {
        assert_eq!(refused(Method::GET, Route::NoHost, Transport::Plain), 400);
        let d = tls_domain("a.example.com");
        for t in [Transport::Plain, tls(&d), h2(&d)] {
            assert_eq!(
                answered(Method::GET, Target::Path, Route::Ambiguous, t),
                ServerAnswer::Refuse(Refusal::AmbiguousHost)
            );
            assert_eq!(refused(Method::GET, Route::Ambiguous, t), 400);
        }
    }

    #[test]
    fn an_unknown_host_is_not_found_on_both_schemes() {
        let d = tls_domain("a.example.com");
        for t in [Transport::Plain, tls(&d)] {
            assert_eq!(refused(Method::GET, Route::Unknown, t), 404);
        }
    }

    #[test]
    fn off_serves_both_schemes() {
        let d = tls_domain("a.example.com");
        assert_eq!(get(&d, Transport::Plain), FORWARD);
        assert_eq!(get(&d, tls(&d)), FORWARD);
        let p = plain_domain("p.example.com");
        assert_eq!(get(&p, Transport::Plain), FORWARD);
    }

    #[test]
    fn http_to_https_redirects_plain_requests_with_the_domain_status() {
        for status in [301, 302, 307, 308] {
            let d = domain(
                "a.example.com",
                https(ForceRedirect::HttpToHttps, status),
                Some(cert()),
            );
            assert_eq!(get(&d, Transport::Plain), (status, Some(Scheme::Https)));
            assert_eq!(get(&d, tls(&d)), FORWARD);
        }
    }

    #[test]
    fn https_to_http_redirects_tls_requests_with_the_domain_status() {
        let d = domain(
            "a.example.com",
            https(ForceRedirect::HttpsToHttp, 307),
            Some(cert()),
        );
        assert_eq!(get(&d, tls(&d)), (307, Some(Scheme::Http)));
        assert_eq!(get(&d, Transport::Plain), FORWARD);
    }

    #[test]
    fn deny_http_refuses_plain_requests_and_serves_https() {
        let d = domain(
            "a.example.com",
            https(ForceRedirect::DenyHttp, 301),
            Some(cert()),
        );
        // A refusal of the domain's policy: it reaches the domain (and counts in its usage).
        assert_eq!(get(&d, Transport::Plain), (403, None));
        assert_eq!(get(&d, tls(&d)), FORWARD);
    }

    #[test]
    fn https_on_a_domain_with_https_off_is_misdirected() {
        let sni = tls_domain("a.example.com");
        let p = plain_domain("p.example.com");
        assert_eq!(get(&p, tls(&sni)), (421, None));
        // Enabled, but its certificate is not loaded: it serves no handshake either.
        let unloaded = domain("u.example.com", https(ForceRedirect::Off, 301), None);
        assert_eq!(get(&unloaded, tls(&sni)), (421, None));
    }

    #[test]
    fn a_host_is_served_on_the_connection_made_for_it() {
        let d = tls_domain("a.example.com");
        assert_eq!(get(&d, tls(&d)), FORWARD);
    }

    #[test]
    fn another_domain_with_the_same_certificate_and_tls_versions_is_served() {
        let shared = cert();
        let a = domain(
            "a.example.com",
            https(ForceRedirect::Off, 301),
            Some(shared.clone()),
        );
        let b = domain(
            "b.example.com",
            https(ForceRedirect::Off, 301),
            Some(shared),
        );
        assert_eq!(get(&b, tls(&a)), FORWARD);
        assert_eq!(get(&a, tls(&b)), FORWARD);
    }

    #[test]
    fn another_domain_with_another_certificate_is_misdirected() {
        let a = tls_domain("a.example.com");
        let b = tls_domain("b.example.com");
        assert_eq!(get(&b, tls(&a)), (421, None));
    }

    #[test]
    fn another_domain_with_the_same_certificate_but_other_tls_versions_is_misdirected() {
        let shared = cert();
        let both = domain(
            "a.example.com",
            https(ForceRedirect::Off, 301),
            Some(shared.clone()),
        );
        let only13 = HttpsConfig {
            tls_versions: vec![TlsVersion::Tls13],
            ..https(ForceRedirect::Off, 301)
        };
        let strict = domain("b.example.com", only13, Some(shared));
        // A 1.3-only domain is not reachable over a connection that may have been 1.2.
        assert_eq!(get(&strict, tls(&both)), (421, None));
        assert_eq!(get(&both, tls(&strict)), (421, None));
    }

    #[test]
    fn the_421_rule_comes_before_the_redirect() {
        let a = tls_domain("a.example.com");
        let b = domain(
            "b.example.com",
            https(ForceRedirect::HttpsToHttp, 301),
            Some(cert()),
        );
        assert_eq!(get(&b, tls(&a)), (421, None));
    }

    /// HTTPS with HTTP/2 on or off, one shared certificate.
    fn h2_domain(name: &str, http2: bool, cert: &Arc<CertifiedKey>) -> Arc<DomainRuntime> {
        let cfg = HttpsConfig {
            http2,
            ..https(ForceRedirect::Off, 301)
        };
        domain(name, cfg, Some(cert.clone()))
    }

    #[test]
    fn a_domain_with_http2_off_is_misdirected_on_an_http2_connection() {
        // The case of shared/cases: m1 and m2 share *.w.example; a client reuses m1's HTTP/2
        // connection for m2.
        let shared = cert();
        let m1 = h2_domain("m1.w.example", true, &shared);
        let m2 = h2_domain("m2.w.example", false, &shared);
        assert_eq!(get(&m2, h2(&m1)), (421, None));
        // Over HTTP/1.1 the same coalescing is served, and m1 is served over both.
        assert_eq!(get(&m2, tls(&m1)), FORWARD);
        assert_eq!(get(&m1, h2(&m2)), FORWARD);
        assert_eq!(get(&m1, h2(&m1)), FORWARD);
        // A connection of its own that is HTTP/2 (made before HTTP/2 was turned off): refused
        // too, so the client opens a new one, which ALPN makes HTTP/1.1.
        assert_eq!(get(&m2, h2(&m2)), (421, None));
        assert_eq!(get(&m2, tls(&m2)), FORWARD);
    }

    #[test]
    fn the_http2_rule_comes_before_the_redirect() {
        let shared = cert();
        let m1 = h2_domain("m1.w.example", true, &shared);
        let cfg = HttpsConfig {
            http2: false,
            ..https(ForceRedirect::HttpsToHttp, 302)
        };
        let m2 = domain("m2.w.example", cfg, Some(shared));
        assert_eq!(get(&m2, h2(&m1)), (421, None));
        assert_eq!(get(&m2, tls(&m1)), (302, Some(Scheme::Http)));
    }
}
