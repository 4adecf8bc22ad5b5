/// Why the data plane could not start or take a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// rustls refused a TLS setting.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The PEM CAs a domain trusts for its origins (`origin_ca_pem`) are unusable.
    ///
    /// The message carries the cause too: the follower logs only this error's `Display`.
    #[error("origin_ca_pem of {domain}: {source}")]
    OriginCa {
        /// The domain.
        domain: String,
        /// What was wrong.
        #[source]
        source: OriginCaError,
    },
}

/// What is wrong with a domain's `origin_ca_pem`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OriginCaError {
    /// A block did not parse as PEM.
    #[error("not PEM: {0}")]
    NotPem(#[source] rustls_pki_types::pem::Error),
    /// A certificate parsed but cannot serve as a trust anchor.
    #[error("not a usable CA certificate: {0}")]
    UnusableCa(#[source] rustls::Error),
    /// The text holds no certificate at all.
    #[error("no CA certificate in it")]
    Empty,
    /// rustls refused the client configuration built from it.
    #[error("{0}")]
    ClientConfig(#[source] rustls::Error),
}
