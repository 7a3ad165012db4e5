//! Loading a stack file never panics, whatever the text and profile.
#![no_main]

use std::path::Path;

use hoist_config::Stack;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|source: &str| {
    let stack = Stack::parse(Path::new("hoist.toml"), source.to_owned(), None);
    if let Ok(stack) = stack {
        let levels = stack.rollout_levels();
        assert_eq!(
            levels.iter().map(Vec::len).sum::<usize>(),
            stack.services.len()
        );
        for profile in &stack.profiles {
            let _ = Stack::parse(Path::new("hoist.toml"), source.to_owned(), Some(profile));
        }
    }
});
