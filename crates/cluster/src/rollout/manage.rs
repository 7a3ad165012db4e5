//! The other entry points: rolling one service back by hand, the stack's
//! status, and removing it.

use std::time::Instant;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::config::{Created, delete_matching};
use super::error::RolloutError;
use super::events::{Event, Reporter, Stage};
use super::fingerprint;
use super::outcome::{Action, Outcome, Removed, ServiceOutcome, ServiceStatus};
use super::plan::{ConfigObjects, Plan, ReleasePlan, Target, Until};
use super::run::Run;

fn find<'p>(plan: &'p Plan, service: &str) -> Result<&'p ReleasePlan, RolloutError> {
    plan.release(service)
        .ok_or_else(|| RolloutError::UnknownService {
            service: service.to_owned(),
            known: plan
                .releases()
                .map(|r| r.service.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

pub(crate) async fn rollback(
    target: &Target,
    plan: &Plan,
    service: &str,
    to_revision: Option<u32>,
    reporter: &dyn Reporter,
) -> Result<Outcome, RolloutError> {
    let release = find(plan, service)?;
    let ns = target.namespace.as_str();
    let history = target.helm.history(&release.release, ns).await?;
    let current = history.last().map(|r| r.revision);
    let wanted = match to_revision {
        Some(r) => history
            .iter()
            .find(|h| h.revision == r && Some(r) != current)
            .map(|h| h.revision),
        None => history
            .iter()
            .rev()
            .filter(|h| Some(h.revision) != current)
            .find(|h| matches!(h.status.as_str(), "superseded" | "deployed"))
            .map(|h| h.revision),
    };
    let Some(wanted) = wanted else {
        return Err(RolloutError::NoRevision {
            release: release.release.clone(),
            namespace: ns.to_owned(),
            wanted: to_revision
                .map_or_else(|| "before the current one".to_owned(), |r| r.to_string()),
        });
    };
    let run = Run::new(target, plan, reporter);
    run.holding(run.rollback_to(release, wanted)).await
}

impl Run<'_> {
    async fn rollback_to(
        &self,
        release: &ReleasePlan,
        revision: u32,
    ) -> Result<Outcome, RolloutError> {
        let started = Instant::now();
        let mut outcome = ServiceOutcome {
            service: release.service.clone(),
            action: Action::Failed,
            revision: None,
            ready: 0,
            desired: 0,
            restarts: 0,
            duration: std::time::Duration::ZERO,
        };
        // Counts from the wait on the revision returned to.
        // A rollback by hand ends like an upgrade: only the revision
        // returned to runs afterwards.
        self.undo_to(release, revision, Until::Settled, &mut outcome)
            .await?;
        outcome.duration = started.elapsed();
        let succeeded = outcome.action == Action::RolledBack;
        self.finish(succeeded, vec![outcome])
    }
}

pub(crate) async fn status(
    target: &Target,
    plan: &Plan,
) -> Result<Vec<ServiceStatus>, RolloutError> {
    let ns = target.namespace.as_str();
    let recorded = fingerprint::read(&target.client, ns).await?;
    let pods = Api::<Pod>::namespaced(target.client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(RolloutError::kube(ns, "listing pods"))?;
    let mut out = Vec::new();
    for release in plan.releases() {
        let current = target.helm.status(&release.release, ns).await?;
        let workloads = recorded
            .get(&release.release)
            .map_or(&[][..], Vec::as_slice);
        let mine: Vec<&Pod> = pods
            .items
            .iter()
            .filter(|p| p.labels().get("app.kubernetes.io/instance") == Some(&release.release))
            .collect();
        let mut image: Vec<String> = mine
            .iter()
            .flat_map(|p| {
                p.status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
            })
            .map(|c| {
                if c.image_id.is_empty() {
                    c.image.clone()
                } else {
                    c.image_id.clone()
                }
            })
            .collect();
        image.sort();
        image.dedup();
        let oldest = workloads.iter().filter_map(|w| w.created).min();
        out.push(ServiceStatus {
            service: release.service.clone(),
            release: release.release.clone(),
            revision: current.as_ref().map(|r| r.revision),
            status: current.map(|r| r.status),
            image,
            ready: workloads.iter().map(|w| w.replicas.ready).sum(),
            desired: workloads.iter().map(|w| w.replicas.desired).sum(),
            restarts: super::diagnose::restarts(mine.iter().copied()),
            age: oldest.and_then(|t| {
                std::time::Duration::try_from(Timestamp::now().duration_since(t)).ok()
            }),
            config_hash: workloads.iter().find_map(|w| w.config_hash.clone()),
            fingerprint: workloads.iter().find_map(|w| w.fingerprint.clone()),
        });
    }
    Ok(out)
}

pub(crate) async fn remove(
    target: &Target,
    plan: &Plan,
    services: &[String],
    volumes: bool,
    reporter: &dyn Reporter,
) -> Result<Removed, RolloutError> {
    for s in services {
        find(plan, s)?;
    }
    let run = Run::new(target, plan, reporter);
    run.holding(remove_held(target, plan, services, volumes, reporter))
        .await
}

async fn remove_held(
    target: &Target,
    plan: &Plan,
    services: &[String],
    volumes: bool,
    reporter: &dyn Reporter,
) -> Result<Removed, RolloutError> {
    let ns = target.namespace.as_str();
    let mut removed = Removed::default();
    // Dependents first: the reverse of the rollout order.
    for level in plan.levels.iter().rev() {
        for release in level
            .iter()
            .filter(|r| services.is_empty() || services.contains(&r.service))
        {
            reporter.on_event(&Event::Stage {
                service: release.service.clone(),
                stage: Stage::Removing,
            });
            if target.helm.status(&release.release, ns).await?.is_some() {
                target.helm.uninstall(&release.release, ns).await?;
                removed.releases.push(release.release.clone());
            }
            remove_data(&target.client, ns, release, volumes, &mut removed).await?;
            reporter.on_event(&Event::Stage {
                service: release.service.clone(),
                stage: Stage::Removed,
            });
        }
    }
    Ok(removed)
}

/// A release's claims and configuration objects, once the release is gone.
///
/// With `volumes`, both go. Without, the claims stay, and so do the
/// configuration objects (every revision) of a release that still has a
/// claim: the data in the volume was initialised with that Secret's
/// password. Only a release without a claim left loses its configuration.
async fn remove_data(
    client: &kube::Client,
    ns: &str,
    release: &ReleasePlan,
    volumes: bool,
    removed: &mut Removed,
) -> Result<(), RolloutError> {
    let claims = format!("app.kubernetes.io/instance={}", release.release);
    let names = |objects: Vec<(String, Created)>| -> Vec<String> {
        objects.into_iter().map(|(name, _)| name).collect()
    };
    let keep_config = if volumes {
        removed
            .volumes
            .extend(delete_matching::<PersistentVolumeClaim>(client, ns, &claims, names).await?);
        false
    } else {
        let listed = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
            .list(&ListParams::default().labels(&claims))
            .await
            .map_err(RolloutError::kube(
                ns,
                format!("listing PersistentVolumeClaims {claims}"),
            ))?;
        let kept = kept_claims(&listed.items);
        let any = !kept.is_empty();
        removed.kept.extend(kept);
        any
    };
    let Some(selector) = release.config.as_ref().and_then(ConfigObjects::selector) else {
        return Ok(());
    };
    if keep_config {
        // Listed, not deleted: their names go to `kept`.
        let mut kept = Vec::new();
        let mut keep = |kind: &str, objects: Vec<(String, Created)>| {
            kept.extend(names(objects).into_iter().map(|n| format!("{kind}/{n}")));
            Vec::new()
        };
        delete_matching::<ConfigMap>(client, ns, &selector, |o| keep("ConfigMap", o)).await?;
        delete_matching::<Secret>(client, ns, &selector, |o| keep("Secret", o)).await?;
        removed.kept.extend(kept);
    } else {
        removed
            .config
            .extend(delete_matching::<ConfigMap>(client, ns, &selector, names).await?);
        removed
            .config
            .extend(delete_matching::<Secret>(client, ns, &selector, names).await?);
    }
    Ok(())
}

/// The claims that stay, `PersistentVolumeClaim/<name>`: those not being
/// deleted (a claim the chart rendered itself goes with the release, and
/// may linger `Terminating` while a pod still uses it).
fn kept_claims(claims: &[PersistentVolumeClaim]) -> Vec<String> {
    claims
        .iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .map(|c| format!("PersistentVolumeClaim/{}", c.name_any()))
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;

    fn claim(name: &str, terminating: bool) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                deletion_timestamp: terminating.then(|| Time(Timestamp::now())),
                ..ObjectMeta::default()
            },
            ..PersistentVolumeClaim::default()
        }
    }

    #[test]
    fn a_claim_being_deleted_does_not_keep_the_configuration() {
        assert_eq!(
            kept_claims(&[claim("data-db-0", false), claim("scratch", true)]),
            ["PersistentVolumeClaim/data-db-0"]
        );
        assert!(kept_claims(&[claim("scratch", true)]).is_empty());
        assert!(kept_claims(&[]).is_empty());
    }
}
