//! hoist-cluster: target detection, image delivery, rollouts and diagnostics.
#![deny(missing_docs)]

/// Everything that can go wrong talking to a cluster or a daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {}

/// The cluster crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
