//! Test support for hoist's crates.
//!
//! Tests that need a real service (dockerd, an OCI registry, PostgreSQL, a
//! Kubernetes cluster) find it through an environment variable that `.ci/run`
//! exports. On a developer machine without the service the test is skipped
//! with a message naming the variable; under CI (`CI=true`) or with
//! `HOIST_REQUIRE_SERVICES=1` a missing service fails the test instead, so a
//! broken CI set-up can never pass by skipping.
//!
//! ```no_run
//! let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY) else { return };
//! assert!(registry.contains(':'));
//! ```
#![deny(missing_docs)]
#![allow(clippy::print_stderr)] // Skipping a test is reported on stderr, as cargo test shows it.

use std::path::PathBuf;

pub mod mirror;
pub mod registry;

/// A service a test may need, and the variable that locates it.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// The environment variable `.ci/run` exports.
    pub var: &'static str,
    /// What it is, for the skip or failure message.
    pub what: &'static str,
}

/// The Docker daemon socket (`unix:///var/run/docker.sock` under CI).
pub const DOCKER: Service = Service {
    var: "HOIST_TEST_DOCKER_HOST",
    what: "a running Docker daemon",
};

/// An anonymous OCI registry, as `HOST:PORT` on loopback (plain HTTP).
pub const REGISTRY: Service = Service {
    var: "HOIST_TEST_REGISTRY",
    what: "an anonymous OCI registry",
};

/// An OCI registry with basic auth, as `HOST:PORT`; the credentials are in
/// `HOIST_TEST_REGISTRY_AUTH_USER` and `HOIST_TEST_REGISTRY_AUTH_PASSWORD`.
pub const REGISTRY_AUTH: Service = Service {
    var: "HOIST_TEST_REGISTRY_AUTH",
    what: "an OCI registry with basic auth",
};

/// A PostgreSQL server, as a `postgresql://` URL.
pub const POSTGRES: Service = Service {
    var: "HOIST_TEST_DATABASE_URL",
    what: "a PostgreSQL server",
};

/// The directory of offline base root filesystems from `cargo xtask bases`.
pub const BASES: Service = Service {
    var: "HOIST_BASES_DIR",
    what: "the offline base images (`cargo xtask bases`)",
};

/// A kubeconfig for a real cluster the end-to-end suites may use.
pub const KUBECONFIG: Service = Service {
    var: "HOIST_E2E_KUBECONFIG",
    what: "a real Kubernetes cluster",
};

/// Whether a missing service must fail the test rather than skip it.
#[must_use]
pub fn services_required() -> bool {
    let set =
        |var: &str| std::env::var(var).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    set("CI") || set("HOIST_REQUIRE_SERVICES") || set("HOIST_E2E_REQUIRE")
}

/// The value locating `service`, or `None` when the test should be skipped.
///
/// # Panics
///
/// When the service's variable is unset or empty and services are required
/// (see [`services_required`]).
#[must_use]
pub fn service(service: Service) -> Option<String> {
    match std::env::var(service.var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if services_required() => panic!(
            "{} is required here but {} is not set; .ci/run starts it and exports the variable",
            service.what, service.var
        ),
        _ => {
            eprintln!(
                "skipped: needs {} ({} is not set)",
                service.what, service.var
            );
            None
        }
    }
}

/// Like [`service`], for services that are a path on this machine.
///
/// # Panics
///
/// As [`service`].
#[must_use]
pub fn service_path(s: Service) -> Option<PathBuf> {
    service(s).map(PathBuf::from)
}

/// A fake credential of the given shape, built at run time so that no test
/// fixture in the repository looks like a real secret.
///
/// The result is deterministic for a given `seed`, so failures reproduce.
#[must_use]
pub fn fake_secret(prefix: &str, len: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let body: String = (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let index = usize::try_from(state >> 33).unwrap_or(0) % ALPHABET.len();
            char::from(ALPHABET[index])
        })
        .collect();
    format!("{prefix}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_secrets_are_deterministic_and_shaped() {
        let a = fake_secret("sk-", 48, 7);
        assert_eq!(a, fake_secret("sk-", 48, 7));
        assert_ne!(a, fake_secret("sk-", 48, 8));
        assert!(a.starts_with("sk-"));
        assert_eq!(a.len(), 51);
        assert!(a[3..].chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
