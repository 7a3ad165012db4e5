//! One deploy at a time per namespace: a coordination.k8s.io/v1 Lease
//! named `hoist`, taken at the start of a run, renewed every third of its
//! duration while the run lasts, deleted at its end. A second run finds it
//! held and is refused at once with the holder and since when; a Lease
//! whose holder stopped renewing (a killed run) is taken over once it
//! expired (`renewTime + leaseDurationSeconds` in the past), or at once
//! when its holder was a hoist process on this machine that is no longer
//! running (a `hoist up` killed with SIGKILL, or stopped by a second
//! Ctrl-C): like a stale lock file, waiting out its expiry would gain
//! nothing. A holder on another machine is refused until its Lease expires,
//! with the time it does, as helm refuses a release with an operation in
//! progress.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::{DeleteParams, PostParams};

use super::error::RolloutError;

/// The Lease's name.
pub(crate) const LEASE: &str = "hoist";

/// A Lease this run holds; renewing stops when it is dropped.
pub(crate) struct Held {
    api: Api<Lease>,
    identity: String,
    renew: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

fn spec(identity: &str, duration: Duration, acquired: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)),
        acquire_time: Some(MicroTime(acquired)),
        renew_time: Some(MicroTime(Timestamp::now())),
        ..LeaseSpec::default()
    }
}

/// The holder, since when, and expiry of a Lease that is still held.
fn held_by_other(lease: &Lease, now: Timestamp) -> Option<(String, String, String)> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let expires =
        renewed + SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    (expires > now).then(|| {
        let since = spec
            .acquire_time
            .as_ref()
            .map_or_else(|| "an unknown time".to_owned(), |t| t.0.to_string());
        (holder, since, expires.to_string())
    })
}

/// Takes the namespace's Lease for `identity`.
pub(crate) async fn acquire(
    client: &kube::Client,
    namespace: &str,
    identity: &str,
    duration: Duration,
) -> Result<Held, RolloutError> {
    let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let locked = |lease: &Lease| {
        held_by_other(lease, Timestamp::now())
            .filter(|(holder, _, _)| !holder_gone(holder, &host()))
            .map(|(holder, since, expires)| RolloutError::Locked {
                namespace: namespace.to_owned(),
                holder,
                since,
                expires,
            })
    };
    let existing = api
        .get_opt(LEASE)
        .await
        .map_err(RolloutError::kube(namespace, "reading Lease hoist"))?;
    let (result, doing) = match existing {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(LEASE.to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec(identity, duration, Timestamp::now())),
            };
            (
                api.create(&PostParams::default(), &lease).await,
                "creating Lease hoist",
            )
        }
        Some(mut current) => {
            if let Some(error) = locked(&current) {
                return Err(error);
            }
            // Free or expired: take it over. The resourceVersion makes a
            // concurrent takeover fail with 409 instead of both winning.
            current.spec = Some(spec(identity, duration, Timestamp::now()));
            (
                api.replace(LEASE, &PostParams::default(), &current).await,
                "taking over Lease hoist",
            )
        }
    };
    if let Err(e) = result {
        // Another run got there between our read and our write.
        if let kube::Error::Api(status) = &e
            && status.code == 409
        {
            let current = api
                .get(LEASE)
                .await
                .map_err(RolloutError::kube(namespace, "reading Lease hoist"))?;
            return Err(locked(&current).unwrap_or_else(|| RolloutError::kube(namespace, doing)(e)));
        }
        return Err(RolloutError::kube(namespace, doing)(e));
    }
    let renew = tokio::spawn(renew(api.clone(), identity.to_owned(), duration));
    Ok(Held {
        api,
        identity: identity.to_owned(),
        renew,
    })
}

async fn renew(api: Api<Lease>, identity: String, duration: Duration) {
    let mut tick = tokio::time::interval((duration / 3).max(Duration::from_secs(1)));
    tick.tick().await;
    loop {
        tick.tick().await;
        let Ok(mut lease) = api.get(LEASE).await else {
            continue;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(&identity) {
            return; // taken over: nothing left to renew
        }
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        let _ = api.replace(LEASE, &PostParams::default(), &lease).await;
    }
}

impl Held {
    /// Stops renewing and deletes the Lease if this run still holds it.
    pub(crate) async fn release(self) {
        self.renew.abort();
        if let Ok(lease) = self.api.get(LEASE).await
            && lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref())
                == Some(&self.identity)
        {
            let params = DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    resource_version: lease.metadata.resource_version.clone(),
                    uid: None,
                }),
                ..DeleteParams::default()
            };
            let _ = self.api.delete(LEASE, &params).await;
        }
    }
}

/// Who this run is, as the Lease shows it.
pub(crate) fn identity(project: &str, run_id: &str) -> String {
    format!(
        "hoist run {run_id} of {project} (pid {} on {})",
        std::process::id(),
        host()
    )
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map_or_else(|_| "unknown host".to_owned(), |h| h.trim().to_owned())
}

/// Whether `holder` (an [`identity`]) was a process on `this_host` that no
/// longer runs. Unknown formats and other hosts are never gone.
fn holder_gone(holder: &str, this_host: &str) -> bool {
    let Some((_, tail)) = holder.rsplit_once("(pid ") else {
        return false;
    };
    let Some((pid, host)) = tail.trim_end_matches(')').split_once(" on ") else {
        return false;
    };
    if host != this_host || host == "unknown host" {
        return false;
    }
    pid.parse::<u32>()
        .is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed_secs_ago: i64, duration: i32) -> Lease {
        let now = Timestamp::now();
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.to_owned()),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(MicroTime(now - SignedDuration::from_secs(100))),
                renew_time: Some(MicroTime(now - SignedDuration::from_secs(renewed_secs_ago))),
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn a_holder_on_this_machine_that_no_longer_runs_is_gone() {
        let alive = identity("todo", "r1");
        let me = host();
        assert!(!holder_gone(&alive, &me), "this process runs");
        // Above the kernel's largest pid (2^22): never running.
        let dead = format!("hoist run r0 of todo (pid 4194305 on {me})");
        assert!(holder_gone(&dead, &me));
        assert!(
            !holder_gone(&dead, "another-host"),
            "other machines are not ours to judge"
        );
        assert!(!holder_gone("kubectl", &me));
    }

    #[test]
    fn a_renewed_lease_is_held_and_an_expired_one_is_free() {
        let now = Timestamp::now();
        let (holder, _, _) = held_by_other(&lease("run a", 5, 30), now).unwrap();
        assert_eq!(holder, "run a");
        assert!(held_by_other(&lease("run a", 31, 30), now).is_none());
        assert!(held_by_other(&lease("", 1, 30), now).is_none());
    }
}
