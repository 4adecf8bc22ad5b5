//! The config file (`docs/configuration.md`): TOML an operator writes, often copied from
//! somewhere else.
//!
//! Properties: nothing panics, on acceptance or on refusal (the error, with its source chain,
//! is formatted as the binary prints it); parsing is deterministic.
#![no_main]

use std::error::Error;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tlsedge_node::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("tlsedge.toml");
    match Config::parse(text, file) {
        Ok(cfg) => {
            let again = Config::parse(text, file).map(|c| format!("{c:?}"));
            assert_eq!(again.ok(), Some(format!("{cfg:?}")), "not deterministic");
        }
        Err(e) => {
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                message.push_str(&s.to_string());
                source = s.source();
            }
            assert!(!message.is_empty());
        }
    }
});
