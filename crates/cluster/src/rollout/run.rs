//! One deploy: the Lease, then level by level each service's configuration,
//! release, readiness wait, and on failure evidence then rollback.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

use k8s_openapi::jiff::Timestamp;

use super::config;
use super::error::RolloutError;
use super::events::{Event, Reporter, Stage};
use super::evidence::{Evidence, Redactor};
use super::fingerprint::{self, Recorded};
use super::lease;
use super::manifest;
use super::outcome::{Action, Cause, Finding, Outcome, ServiceOutcome};
use super::plan::{Plan, ReleasePlan, Target, Until};
use super::wait::{Wait, Waited};
use crate::helm::{HelmError, Revision};

/// Everything the services of one run share.
pub(crate) struct Run<'a> {
    pub(crate) target: &'a Target,
    pub(crate) plan: &'a Plan,
    pub(crate) reporter: &'a dyn Reporter,
    pub(crate) redactor: Redactor,
    pub(crate) evidence: Evidence,
    pub(crate) id: String,
    findings: Mutex<Vec<Finding>>,
}

/// A new run id: UTC time, pid and a counter of this process's runs,
/// e.g. `20261201T170501Z-4242-0`.
pub(crate) fn run_id(plan: &Plan) -> String {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    plan.options.run_id.clone().unwrap_or_else(|| {
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!(
            "{}-{}-{n}",
            Timestamp::now().strftime("%Y%m%dT%H%M%SZ"),
            std::process::id()
        )
    })
}

impl<'a> Run<'a> {
    pub(crate) fn new(target: &'a Target, plan: &'a Plan, reporter: &'a dyn Reporter) -> Self {
        let run_id = run_id(plan);
        let redactor = Redactor::new(&plan.redact);
        let evidence = Evidence::new(
            &plan.state_dir,
            &run_id,
            &plan.project,
            &target.namespace,
            redactor.clone(),
        );
        Self {
            target,
            plan,
            reporter,
            redactor,
            evidence,
            id: run_id,
            findings: Mutex::new(Vec::new()),
        }
    }

    fn ns(&self) -> &str {
        &self.target.namespace
    }

    fn stage(&self, service: &str, stage: Stage) {
        self.reporter.on_event(&Event::Stage {
            service: service.to_owned(),
            stage,
        });
    }

    pub(crate) fn findings(&self) -> Vec<Finding> {
        self.findings.lock().expect("never poisoned").clone()
    }

    /// Masks, reports and keeps `findings`.
    fn found(&self, findings: Vec<Finding>) -> Vec<Finding> {
        let findings: Vec<Finding> = findings
            .into_iter()
            .map(|f| self.redactor.finding(f))
            .collect();
        for f in &findings {
            self.reporter.on_event(&Event::Finding(f.clone()));
        }
        self.findings
            .lock()
            .expect("never poisoned")
            .extend(findings.iter().cloned());
        findings
    }

    /// Takes the Lease, rolls every level out, writes the report on failure.
    pub(crate) async fn deploy(&self) -> Result<Outcome, RolloutError> {
        // Every fingerprint first: a missing chart file stops the run before anything changed.
        let mut fingerprints = BTreeMap::new();
        for release in self.plan.releases() {
            fingerprints.insert(release.service.clone(), fingerprint::compute(release)?);
        }
        config::ensure_namespace(&self.target.client, self.ns()).await?;
        self.holding(self.levels(&fingerprints)).await
    }

    /// Runs `work` holding the namespace's Lease, released after it.
    pub(crate) async fn holding<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, RolloutError>>,
    ) -> Result<T, RolloutError> {
        let identity = lease::identity(&self.plan.project, &self.id);
        let held = lease::acquire(
            &self.target.client,
            self.ns(),
            &identity,
            self.plan.options.lease_duration,
        )
        .await?;
        let result = work.await;
        held.release().await;
        result
    }

    async fn levels(
        &self,
        fingerprints: &BTreeMap<String, String>,
    ) -> Result<Outcome, RolloutError> {
        let recorded = fingerprint::read(&self.target.client, self.ns()).await?;
        let mut outcomes = Vec::new();
        let mut broken: BTreeSet<String> = BTreeSet::new();
        let mut interrupted = false;
        for level in &self.plan.levels {
            interrupted = interrupted || self.interrupted();
            let runs = level.iter().map(|release| {
                let blocked = interrupted || release.depends_on.iter().any(|d| broken.contains(d));
                let workloads = recorded
                    .get(&release.release)
                    .map_or(&[][..], Vec::as_slice);
                async move {
                    if blocked {
                        return Ok(not_started(&release.service));
                    }
                    self.service(release, &fingerprints[&release.service], workloads)
                        .await
                }
            });
            for outcome in futures::future::join_all(runs).await {
                let outcome = outcome?;
                if !matches!(
                    outcome.action,
                    Action::Installed | Action::Upgraded | Action::Unchanged
                ) {
                    broken.insert(outcome.service.clone());
                }
                outcomes.push(outcome);
            }
        }
        let mut outcome = self.finish(broken.is_empty(), outcomes)?;
        outcome.interrupted = interrupted;
        Ok(outcome)
    }

    fn interrupted(&self) -> bool {
        self.plan
            .options
            .interrupt
            .as_ref()
            .is_some_and(tokio_util::sync::CancellationToken::is_cancelled)
    }

    /// The run's outcome; a failed run's report is written again with every
    /// service's outcome.
    pub(crate) fn finish(
        &self,
        succeeded: bool,
        services: Vec<ServiceOutcome>,
    ) -> Result<Outcome, RolloutError> {
        let report = if succeeded {
            None
        } else {
            self.evidence.write(Some(false), Some(&services))?;
            Some(self.evidence.path().to_path_buf())
        };
        Ok(Outcome {
            run_id: self.id.clone(),
            succeeded,
            interrupted: false,
            report,
            services,
            findings: self.findings(),
        })
    }

    async fn service(
        &self,
        release: &ReleasePlan,
        fingerprint: &str,
        recorded: &[Recorded],
    ) -> Result<ServiceOutcome, RolloutError> {
        let started = Instant::now();
        let service = release.service.as_str();
        let mut outcome = ServiceOutcome {
            service: service.to_owned(),
            action: Action::Failed,
            revision: None,
            ready: 0,
            desired: 0,
            restarts: 0,
            duration: std::time::Duration::ZERO,
        };
        if fingerprint::unchanged(recorded, fingerprint) {
            self.reporter.on_event(&Event::Skipped {
                service: service.to_owned(),
                reason: "unchanged and Ready".to_owned(),
            });
            outcome.action = Action::Unchanged;
            outcome.revision = recorded.iter().find_map(|r| r.revision);
            outcome.ready = recorded.iter().map(|r| r.replicas.ready).sum();
            outcome.desired = recorded.iter().map(|r| r.replicas.desired).sum();
            outcome.duration = started.elapsed();
            return Ok(outcome);
        }
        if let Some(objects) = &release.config {
            self.stage(service, Stage::Config);
            if let Err(e) = config::apply(&self.target.client, self.ns(), objects).await {
                self.fail(release, Cause::MissingConfig, &e.to_string(), &[], &[])?;
                self.stage(service, Stage::Failed);
                outcome.duration = started.elapsed();
                return Ok(outcome);
            }
        }
        let helm = &self.target.helm;
        let history = match self.history_unstuck(release).await {
            Ok(h) => h,
            Err(e) => {
                // Without the history hoist cannot tell what to go back to: touch nothing.
                self.fail(release, Cause::Other, &e.to_string(), &[], &[])?;
                self.stage(service, Stage::Failed);
                outcome.duration = started.elapsed();
                return Ok(outcome);
            }
        };
        let previous = last_deployed(&history);
        self.stage(service, Stage::Release);
        let since = Timestamp::now();
        let released = match helm.upgrade(release, self.ns()).await {
            Ok(r) => r,
            Err(e) => {
                return self
                    .helm_failed(release, previous, &e.to_string(), outcome, started)
                    .await;
            }
        };
        let waited = match self
            .wait_release(release, &released.manifest, self.plan.options.until, since)
            .await
        {
            Ok(w) => w,
            Err(message) => {
                return self
                    .helm_failed(release, previous, &message, outcome, started)
                    .await;
            }
        };
        let (waited, owned) = waited;
        outcome.counted(&waited);
        if waited.findings.is_empty() {
            let revision = Some(released.revision);
            fingerprint::record(
                &self.target.client,
                self.ns(),
                &owned,
                fingerprint,
                revision,
            )
            .await?;
            if let Some(objects) = &release.config {
                config::prune(&self.target.client, self.ns(), &release.release, objects).await?;
            }
            self.stage(service, Stage::Ready);
            outcome.action = if previous.is_some() {
                Action::Upgraded
            } else {
                Action::Installed
            };
            outcome.revision = revision;
        } else {
            let findings = self.found(waited.findings);
            self.stage(service, Stage::Evidence);
            self.evidence
                .add(service, &findings, &waited.pods, &waited.events)?;
            self.undo(release, previous, &mut outcome).await?;
        }
        outcome.duration = started.elapsed();
        Ok(outcome)
    }

    /// The release's objects from the manifest `helm upgrade` gave, then the wait.
    async fn wait_release(
        &self,
        release: &ReleasePlan,
        text: &str,
        until: Until,
        since: Timestamp,
    ) -> Result<(Waited, Vec<manifest::Owned>), String> {
        let owned = manifest::owned(text).map_err(|e| {
            format!(
                "cannot read the manifest of release {}: {e}",
                release.release
            )
        })?;
        self.stage(&release.service, Stage::Waiting);
        let wait = Wait {
            client: &self.target.client,
            namespace: self.ns(),
            service: &release.service,
            image: release.image.as_ref(),
            owned: &owned,
            deadline: release.deadline,
            crashloop_restarts: self.plan.options.crashloop_restarts,
            until,
            since,
            reporter: self.reporter,
        };
        Ok((wait.run().await, owned))
    }

    /// A failure with no pods to show (helm, an API call): finding, evidence, undo.
    async fn helm_failed(
        &self,
        release: &ReleasePlan,
        previous: Option<u32>,
        message: &str,
        mut outcome: ServiceOutcome,
        started: Instant,
    ) -> Result<ServiceOutcome, RolloutError> {
        self.fail(release, Cause::Other, message, &[], &[])?;
        self.undo(release, previous, &mut outcome).await?;
        outcome.duration = started.elapsed();
        Ok(outcome)
    }

    fn fail(
        &self,
        release: &ReleasePlan,
        cause: Cause,
        message: &str,
        pods: &[std::sync::Arc<k8s_openapi::api::core::v1::Pod>],
        events: &[std::sync::Arc<k8s_openapi::api::core::v1::Event>],
    ) -> Result<(), RolloutError> {
        let findings = self.found(vec![Finding {
            service: release.service.clone(),
            object: format!("Release/{}", release.release),
            pod: None,
            container: None,
            cause,
            message: message.to_owned(),
            fix: None,
            logs: Vec::new(),
        }]);
        self.stage(&release.service, Stage::Evidence);
        self.evidence.add(&release.service, &findings, pods, events)
    }

    /// After the evidence is written: back to `previous`, or uninstall a
    /// first install, or (no rollback) leave it. Sets the outcome's action
    /// and revision, and after a rollback the counts of its wait.
    async fn undo(
        &self,
        release: &ReleasePlan,
        previous: Option<u32>,
        outcome: &mut ServiceOutcome,
    ) -> Result<(), RolloutError> {
        let service = release.service.as_str();
        let helm = &self.target.helm;
        if !self.plan.options.rollback {
            self.stage(service, Stage::Failed);
            let revision = helm
                .status(&release.release, self.ns())
                .await
                .ok()
                .flatten()
                .map(|r| r.revision);
            (outcome.action, outcome.revision) = (Action::Failed, revision);
            return Ok(());
        }
        let Some(previous) = previous else {
            self.stage(service, Stage::Removing);
            if helm.status(&release.release, self.ns()).await?.is_some() {
                helm.uninstall(&release.release, self.ns()).await?;
            }
            self.stage(service, Stage::Removed);
            (outcome.action, outcome.revision) = (Action::Removed, None);
            outcome.counted_none();
            return Ok(());
        };
        // The failed revision's pods need not be gone for the previous one
        // to serve: a pod that ignores SIGTERM takes its whole grace period.
        self.undo_to(release, previous, Until::Serving, outcome)
            .await
    }

    /// `helm rollback` to `previous`, then the wait until it is Ready as
    /// `until` says: sets the outcome's action and revision, and the
    /// ready/desired replicas and restarts that wait saw (none when the wait
    /// could not start).
    pub(crate) async fn undo_to(
        &self,
        release: &ReleasePlan,
        previous: u32,
        until: Until,
        outcome: &mut ServiceOutcome,
    ) -> Result<(), RolloutError> {
        let service = release.service.as_str();
        let helm = &self.target.helm;
        self.stage(service, Stage::RollingBack);
        let since = Timestamp::now();
        helm.rollback(&release.release, self.ns(), previous).await?;
        let revision = helm
            .status(&release.release, self.ns())
            .await?
            .map(|r| r.revision);
        outcome.revision = revision;
        let waited = match helm.manifest(&release.release, self.ns(), None).await {
            Ok(text) => self.wait_release(release, &text, until, since).await,
            Err(e) => Err(e.to_string()),
        };
        match waited {
            Ok((waited, _)) => {
                outcome.counted(&waited);
                if waited.findings.is_empty() {
                    self.stage(service, Stage::RolledBack);
                    outcome.action = Action::RolledBack;
                } else {
                    let findings = self.found(waited.findings);
                    self.evidence
                        .add(service, &findings, &waited.pods, &waited.events)?;
                    self.stage(service, Stage::Failed);
                    outcome.action = Action::Failed;
                }
            }
            Err(message) => {
                outcome.counted_none();
                self.fail(release, Cause::Other, &message, &[], &[])?;
                self.stage(service, Stage::Failed);
                outcome.action = Action::Failed;
            }
        }
        Ok(())
    }
}

/// The newest revision that is deployed (the one serving).
impl Run<'_> {
    /// The release's history, once a revision left `pending-*` by a killed
    /// run is resolved: this run holds the Lease, so no hoist run is working
    /// on the release, and helm refuses every upgrade while a revision is
    /// pending ("another operation is in progress"). Rolled back to the last
    /// deployed revision, or uninstalled when there is none (a first install
    /// killed; claims are kept).
    async fn history_unstuck(&self, release: &ReleasePlan) -> Result<Vec<Revision>, HelmError> {
        let helm = &self.target.helm;
        let history = helm.history(&release.release, self.ns()).await?;
        if !history
            .last()
            .is_some_and(|r| r.status.starts_with("pending-"))
        {
            return Ok(history);
        }
        match last_deployed(&history) {
            Some(previous) => {
                helm.rollback(&release.release, self.ns(), previous).await?;
            }
            None => helm.uninstall(&release.release, self.ns()).await?,
        }
        helm.history(&release.release, self.ns()).await
    }
}

pub(crate) fn last_deployed(history: &[Revision]) -> Option<u32> {
    history
        .iter()
        .rev()
        .find(|r| r.status == "deployed")
        .map(|r| r.revision)
}

fn not_started(service: &str) -> ServiceOutcome {
    ServiceOutcome {
        service: service.to_owned(),
        action: Action::NotStarted,
        revision: None,
        ready: 0,
        desired: 0,
        restarts: 0,
        duration: std::time::Duration::ZERO,
    }
}

impl ServiceOutcome {
    /// The replicas and restarts a readiness wait saw.
    fn counted(&mut self, waited: &Waited) {
        self.ready = waited.replicas.ready;
        self.desired = waited.replicas.desired;
        self.restarts = waited.restarts;
    }

    /// No wait to count from (the release is gone, or its manifest unreadable).
    fn counted_none(&mut self) {
        (self.ready, self.desired, self.restarts) = (0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::kstatus::Replicas;

    #[test]
    fn an_outcome_reports_the_counts_of_the_wait_it_ended_on() {
        // `rollback` and `up`'s rollback take the counts of the wait on the
        // revision returned to, not the zeroes they start from.
        let mut outcome = not_started("db");
        outcome.counted(&Waited {
            findings: Vec::new(),
            replicas: Replicas {
                ready: 2,
                desired: 3,
            },
            restarts: 4,
            pods: Vec::new(),
            events: Vec::new(),
        });
        assert_eq!(
            (outcome.ready, outcome.desired, outcome.restarts),
            (2, 3, 4)
        );
        outcome.counted_none();
        assert_eq!(
            (outcome.ready, outcome.desired, outcome.restarts),
            (0, 0, 0)
        );
    }
}
