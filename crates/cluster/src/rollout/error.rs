//! The rollout engine's errors: things that stop a run before or outside
//! a service's rollout. A service that fails to become Ready is not an
//! error but an [`super::Outcome`] with findings.

use std::path::PathBuf;

use crate::helm::HelmError;

/// Errors of [`super::deploy`], [`super::rollback`], [`super::remove`] and [`super::status`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// Another run holds the namespace's Lease.
    #[error(
        "another hoist run holds the Lease `hoist` in namespace {namespace}: {holder}, since {since}; wait for it to finish, or for the Lease to expire at {expires} if that run was killed"
    )]
    Locked {
        /// The namespace.
        namespace: String,
        /// The holder's identity.
        holder: String,
        /// When it took the Lease.
        since: String,
        /// When the Lease expires unless renewed.
        expires: String,
    },
    /// An API call failed.
    #[error(
        "{action} in namespace {namespace} failed: {source}; check the cluster with `kubectl get --raw /readyz`"
    )]
    Kube {
        /// What hoist was doing, e.g. `applying ConfigMap todo-backend-config-1a2b`.
        action: String,
        /// The namespace.
        namespace: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// helm failed outside a service's rollout (status, remove, rollback).
    #[error(transparent)]
    Helm(#[from] HelmError),
    /// The evidence could not be written.
    #[error("cannot write the rollout report {}: {source}; check that the directory is writable", path.display())]
    Report {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file of a chart or values could not be read for the fingerprint.
    #[error("cannot read {} for service {service}: {source}; check the chart path in hoist.toml", path.display())]
    Read {
        /// The service.
        service: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A service named in a request is not in the plan.
    #[error("no service {service} in the plan; the services are: {known}")]
    UnknownService {
        /// The name asked for.
        service: String,
        /// The plan's services, comma-separated.
        known: String,
    },
    /// The release has no revision to go back to.
    #[error(
        "release {release} has no deployed revision {wanted} to roll back to; see `helm history {release} -n {namespace}`"
    )]
    NoRevision {
        /// The release.
        release: String,
        /// The namespace.
        namespace: String,
        /// The revision asked for, or `before the current one`.
        wanted: String,
    },
}

impl RolloutError {
    /// A mapper from a kube error to [`RolloutError::Kube`] for `action` in `namespace`.
    pub(crate) fn kube(
        namespace: &str,
        action: impl Into<String>,
    ) -> impl FnOnce(kube::Error) -> Self {
        let (namespace, action) = (namespace.to_owned(), action.into());
        move |source| Self::Kube {
            action,
            namespace,
            source,
        }
    }
}
