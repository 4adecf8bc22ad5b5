//! Output for people and for scripts: one [`Output`] trait that every command's result
//! implements, and one [`print`] that writes either its JSON (`--json`) or its text.
//!
//! Text is a table (header row, columns padded to their widest cell, two spaces apart, no
//! trailing blanks) or `key: value` lines. Everything printed is built from the API's answers,
//! which hold no key material.

use std::io::Write;

use anyhow::Context;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A command's result: its JSON for `--json`, its text otherwise.
pub(crate) trait Output: Serialize {
    /// The text for people.
    fn text(&self) -> String;

    /// The JSON for scripts: the API's answer, pretty-printed. Empty when the API answered
    /// without a body (a delete).
    fn json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }
}

/// Prints `out` as JSON or as text, with a final newline; a closed pipe (`| head`) is not an
/// error.
pub(crate) fn print(out: &impl Output, json: bool) -> anyhow::Result<()> {
    let text = if json { out.json()? } else { out.text() };
    if text.is_empty() {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    let res = stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush());
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// A table with a header row and columns padded to their widest cell, two spaces apart, no
/// trailing blanks.
pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(headers.iter().copied());
    for row in rows {
        t.add_row(row);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut out = t.trim_fmt();
    out.push('\n');
    out
}

/// `key: value` lines with the values aligned; a value of several lines continues under itself.
pub(crate) fn key_values(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let key = format!("{k}:");
        let mut lines = v.lines();
        let first = lines.next().unwrap_or("");
        out.push_str(format!("{key:<width$}  {first}").trim_end());
        out.push('\n');
        for line in lines {
            out.push_str(format!("{:width$}  {line}", "").trim_end());
            out.push('\n');
        }
    }
    out
}

/// The value, or `-` when there is none.
pub(crate) fn or_dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => "-".to_owned(),
    }
}

/// The items joined with `, `, or `-` when there are none.
pub(crate) fn join_or_dash<T: AsRef<str>>(items: &[T]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `on` or `off`.
pub(crate) fn on_off(b: bool) -> String {
    (if b { "on" } else { "off" }).to_owned()
}

/// The name a value has on the wire (`"pending_csr"`, `"backup"`, `"1.3"`), so the text shows
/// the words the API and `--json` use without a second list of them.
pub(crate) fn wire_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

/// An RFC 3339 time as the API writes it.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// The UTC date of a time (`2026-03-01`).
pub(crate) fn date_of(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).date().to_string()
}

/// `2026-03-01T00:00:00Z (in 41 days)` / `(expired 3 days ago)`.
pub(crate) fn not_after_label(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let days = (t - now).whole_days();
    if t < now {
        format!("{} (expired {} days ago)", rfc3339(t), -days)
    } else {
        format!("{} (in {days} days)", rfc3339(t))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_aligned() {
        let t = table(
            &["NAME", "STATUS", "DOMAINS"],
            vec![
                vec!["a".into(), "valid".into(), "x.example.com".into()],
                vec!["longer-name".into(), "expired".into(), "-".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME         STATUS   DOMAINS\n\
             a            valid    x.example.com\n\
             longer-name  expired  -\n"
        );
        let kv = key_values(&[
            ("name", "c1".into()),
            ("warnings", "one\ntwo".into()),
            ("x", String::new()),
        ]);
        assert_eq!(kv, "name:      c1\nwarnings:  one\n           two\nx:\n");
    }

    #[test]
    fn labels() {
        let t = OffsetDateTime::parse("2026-03-01T23:30:00-02:00", &Rfc3339).unwrap();
        assert_eq!(date_of(t), "2026-03-02");
        let now = OffsetDateTime::parse("2026-02-01T00:00:00Z", &Rfc3339).unwrap();
        assert_eq!(
            not_after_label(t, now),
            "2026-03-01T23:30:00-02:00 (in 29 days)"
        );
        let later = OffsetDateTime::parse("2026-03-12T00:00:00Z", &Rfc3339).unwrap();
        assert!(not_after_label(t, later).ends_with("(expired 9 days ago)"));
        assert_eq!(
            wire_name(&tlsedge_model::CertStatus::PendingCsr),
            "pending_csr"
        );
        assert_eq!(join_or_dash::<&str>(&[]), "-");
        assert_eq!(or_dash(Some("")), "-");
    }
}
