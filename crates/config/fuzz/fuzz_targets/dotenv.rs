//! The `.env` parser never panics, and whatever it accepts survives a round
//! trip: rendering the parsed pairs with `quote` and parsing again gives
//! the same pairs.
#![no_main]

use std::fmt::Write as _;
use std::path::Path;

use hoist_config::dotenv::{self, Expand, quote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|source: &str| {
    let Ok(entries) = dotenv::parse(Path::new("fuzz.env"), source, Expand::OWN_KEYS_ONLY) else {
        return;
    };
    let mut rendered = String::new();
    for entry in &entries {
        let _ = writeln!(rendered, "{}={}", entry.key, quote(&entry.value));
    }
    let again = dotenv::parse(Path::new("fuzz.env"), &rendered, Expand::OWN_KEYS_ONLY)
        .expect("a rendered file parses");
    let pairs = |entries: &[dotenv::DotenvEntry]| -> Vec<(String, String)> {
        entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    };
    assert_eq!(pairs(&entries), pairs(&again));
});
