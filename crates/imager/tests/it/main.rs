//! hoist-imager's integration tests, against real tools where they matter:
//! skopeo, umoci and a real Docker daemon (`HOIST_TEST_DOCKER_HOST`), with
//! the offline bases from `cargo xtask bases` (`HOIST_BASES_DIR`) and, for
//! the reference app's public bases, the mirror `HOIST_REGISTRY_MIRRORS` names.
//!
//! Run with `HOIST_BASES_DIR=/var/cache/hoist/bases cargo test -p hoist-imager --test it`
//! after `source /var/lib/hoist-ci/env`.

mod app;
mod bases;
mod budget;
mod cache;
mod dockerfile;
mod forms;
mod registry;
mod reproducible;
mod secrets;
mod support;
mod tools;
