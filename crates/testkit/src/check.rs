//! Checks that the admin API's in-process tests and the end-to-end tests share.

/// `text` as it may appear in a test's output: whole, unless it holds a run of 40 or more
/// base64 characters (a key or certificate body), in which case only its length is shown. Test
/// failures print answers and logs; this keeps key material out of test output.
pub fn withhold_key_material(text: &str) -> String {
    let mut run = 0usize;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '+' || c == '/' {
            run += 1;
            if run >= 40 {
                return format!(
                    "<{} bytes withheld: they hold a long base64 run>",
                    text.len()
                );
            }
        } else {
            run = 0;
        }
    }
    text.to_owned()
}

/// Checks that every sample line of a Prometheus text exposition is `name[{labels}] value`
/// (comments and blank lines aside) and returns how many there are.
///
/// Panics naming the first malformed line: this is a test's assertion.
pub fn prometheus_samples(text: &str) -> usize {
    let mut samples = 0;
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((name, value)) = line.rsplit_once(' ') else {
            panic!("bad metrics line {line:?}");
        };
        assert!(
            value.parse::<f64>().is_ok(),
            "bad value in metrics line {line:?}"
        );
        assert!(
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'),
            "bad name in metrics line {line:?}"
        );
        samples += 1;
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_base64_runs_are_withheld() {
        assert_eq!(withhold_key_material("short text"), "short text");
        let key = "A".repeat(40);
        assert_eq!(
            withhold_key_material(&format!("x {key} y")),
            "<44 bytes withheld: they hold a long base64 run>"
        );
    }

    #[test]
    fn samples_are_counted() {
        assert_eq!(
            prometheus_samples("# TYPE a counter\na 1\nb{x=\"y\"} 2.5\n"),
            2
        );
    }

    #[test]
    #[should_panic(expected = "bad value")]
    fn a_bad_value_is_refused() {
        prometheus_samples("a one\n");
    }
}
