//! The small part of PEM handling that `rustls_pki_types::pem` leaves to us: it silently skips
//! blocks of unknown types and knows nothing of encryption headers, while the API must name
//! them (a PKCS#7 bundle, an encrypted key) to give a useful refusal.

use rustls_pki_types::pem;
use zeroize::Zeroizing;

/// What the BEGIN lines of a PEM text announce.
pub(crate) struct Scan {
    /// The label of every `-----BEGIN …-----` line, in order, made safe to quote.
    pub(crate) labels: Vec<String>,
    /// Whether a traditional (OpenSSL) `Proc-Type: 4,ENCRYPTED` header is present.
    pub(crate) encrypted_header: bool,
}

/// Trims every line and ends each with `\n`, so PEM pasted with indentation or CRLF line ends
/// parses. The copy may hold a private key, so it is zeroed on drop.
pub(crate) fn normalise(input: &str) -> Zeroizing<String> {
    // `lines()` never makes the text longer, so this buffer never reallocates (a reallocation
    // would leave an unzeroed copy behind).
    let mut out = Zeroizing::new(String::with_capacity(input.len() + 1));
    for line in input.lines() {
        out.push_str(line.trim());
        out.push('\n');
    }
    out
}

/// Lists the BEGIN labels of a (normalised) PEM text.
pub(crate) fn scan(text: &str) -> Scan {
    let mut labels = Vec::new();
    let mut encrypted_header = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            labels.push(safe_label(rest.strip_suffix("-----").unwrap_or(rest)));
        } else if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
            encrypted_header = true;
        }
    }
    Scan {
        labels,
        encrypted_header,
    }
}

/// A label as it may appear in an error message: PEM labels are short upper-case words; anything
/// else is not quoted.
fn safe_label(label: &str) -> String {
    let ok = !label.is_empty()
        && label.len() <= 40
        && label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'-');
    if ok {
        label.to_owned()
    } else {
        "(unrecognised)".to_owned()
    }
}

/// Describes a PEM syntax error without quoting the input (the pki-types `Display` quotes lines).
pub(crate) fn describe(err: &pem::Error) -> &'static str {
    match err {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no matching END line",
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "the body of a PEM block is not valid base64",
        pem::Error::SectionTooLarge => "a PEM block is too large",
        _ => "it cannot be read as PEM",
    }
}

/// A hint for the commonest way to break PEM on its way through JSON or a shell: the line breaks
/// arrive as the two characters `\n`.
pub(crate) fn escaped_newline_hint(input: &str) -> &'static str {
    if input.contains("\\n") && input.trim().lines().count() <= 1 {
        " (it contains literal \\n sequences where line breaks belong)"
    } else {
        ""
    }
}

/// Encodes DER as one PEM block with 64-character lines (the model's one encoder).
pub(crate) use tlsedge_model::pem_encode as encode;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_scans() {
        let text = normalise("  -----BEGIN PKCS7-----\r\n  AAAA\r\n  -----END PKCS7-----  ");
        assert_eq!(&*text, "-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n");
        let s = scan(&text);
        assert_eq!(s.labels, ["PKCS7"]);
        assert!(!s.encrypted_header);
        let s = scan(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n-----BEGIN <script>-----\n",
        );
        assert!(s.encrypted_header);
        assert_eq!(s.labels, ["RSA PRIVATE KEY", "(unrecognised)"]);
    }

    #[test]
    fn encodes_64_column_lines() {
        let pem = encode("CERTIFICATE", &[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END CERTIFICATE-----"));
        assert!(pem.ends_with('\n'));
        assert!(encode("X", &[]).starts_with("-----BEGIN X-----\n-----END X-----"));
    }

    #[test]
    fn hints_at_escaped_newlines() {
        assert_ne!(
            escaped_newline_hint("-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END"),
            ""
        );
        assert_eq!(escaped_newline_hint("a\nb"), "");
    }
}
