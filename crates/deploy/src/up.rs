//! `up`: build (cached) -> deliver by digest -> configuration objects ->
//! ordered rollout, doing only what changed, and saying per service what
//! was skipped and why.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hoist_cluster::deliver;
use hoist_cluster::rollout::{self, Finding, ServiceOutcome};
use hoist_cluster::target::Delivery;
use hoist_config::{EnvInputs, Stack};
use serde::Serialize;

use crate::access::{self, Access};
use crate::cluster::{self, ClusterOptions};
use crate::images::{BuildSettings, BuildSummary, DeliverSummary, short_digest};
use crate::report::{Reporter, Step, StepState};
use crate::{Result, plan, prepare};

/// What `up` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The services to deploy (every service when empty), with what they
    /// depend on unless `only`.
    pub services: Vec<String>,
    /// Deploy exactly the named services, not their dependencies.
    pub only: bool,
    /// Where variables come from besides the stack's `.env` files.
    pub env: EnvInputs,
    /// Which cluster, and how images reach it.
    pub cluster: ClusterOptions,
    /// How images are built.
    pub build: BuildSettings,
    /// Roll a failed service back (`false`: `--no-rollback`).
    pub rollback: bool,
    /// Cancelled on Ctrl-C: the tier being rolled out finishes (or rolls
    /// back), the tiers after it are not started, the Lease is released, and
    /// the outcome says `interrupted`.
    pub interrupt: Option<tokio_util::sync::CancellationToken>,
}

/// What `up` did.
#[derive(Debug, Clone, Serialize)]
pub struct UpOutcome {
    /// The project.
    pub project: String,
    /// The namespace.
    pub namespace: String,
    /// The kube context.
    pub context: String,
    /// What the context points at and how images get there, in words.
    pub target: String,
    /// How images were delivered.
    pub delivery: Delivery,
    /// Every service is Ready on what was asked for.
    pub succeeded: bool,
    /// The run was interrupted (see [`UpOptions::interrupt`]).
    pub interrupted: bool,
    /// The rollout's run id.
    pub run_id: String,
    /// The run's report (`.hoist/runs/<id>/report.json`; always on failure).
    pub report: Option<PathBuf>,
    /// Per service, in rollout order.
    pub services: Vec<ServiceSummary>,
    /// The rollout's findings (empty on success).
    pub findings: Vec<Finding>,
}

/// One service's part of an [`UpOutcome`].
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSummary {
    /// The service.
    pub service: String,
    /// Its image build (none without an image table).
    pub build: Option<BuildSummary>,
    /// Its image delivery.
    pub deliver: Option<DeliverSummary>,
    /// Its rollout (none without a chart).
    pub rollout: Option<ServiceOutcome>,
    /// The image's short digest, `sha256:<12 hex>`.
    pub image: Option<String>,
    /// How to open it, when it is exposed outside the cluster.
    pub access: Option<Access>,
    /// The steps that did nothing, and why.
    pub skipped: Vec<Skipped>,
}

/// A step that did nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The step.
    pub step: Step,
    /// Why.
    pub reason: String,
}

/// Builds, delivers and rolls out the selected services of `stack`.
///
/// The inputs are checked first (services, variables, recipes), then the
/// cluster (it must answer within seconds, and have a way to get images),
/// and only then is anything built, sent or applied.
///
/// # Errors
///
/// Input errors ([`crate::Error::is_input`]), [`crate::Error::NoCluster`],
/// [`crate::Error::NoImagePath`], a failed build or delivery, or a rollout
/// that could not run. A service that fails its rollout is an outcome with
/// `succeeded: false` and findings, not an error.
pub async fn up(stack: &Stack, options: &UpOptions, reporter: &dyn Reporter) -> Result<UpOutcome> {
    let selection = prepare::select(stack, options)?;
    let session = Session::open(stack, &options.cluster).await?;
    session
        .run(
            stack,
            &selection,
            options,
            reporter,
            &BTreeMap::new(),
            false,
        )
        .await
}

/// A connected cluster with its detected target and image loader: what
/// every run of `up` needs, opened once (`hoist dev` keeps it for each cycle).
pub(crate) struct Session {
    pub(crate) cluster: cluster::Cluster,
    pub(crate) detection: hoist_cluster::target::Detection,
    loader: Box<dyn deliver::Loader>,
}

impl Session {
    /// Connects, detects the target and opens its loader.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NoCluster`], [`crate::Error::NoImagePath`], and a
    /// loader that cannot be opened.
    pub(crate) async fn open(stack: &Stack, options: &ClusterOptions) -> Result<Self> {
        let cluster = cluster::connect(stack, options).await?;
        let (detection, destination) = cluster.destination(stack, options).await?;
        let loader = deliver::open(destination).await?;
        Ok(Self {
            cluster,
            detection,
            loader,
        })
    }

    /// Builds and delivers the recipes of `selection` (checked by
    /// [`prepare::select`]) and rolls out its services; a service without
    /// a recipe in `selection` runs the image `current` names for it.
    /// `dev`: a cycle of `hoist dev`, whose charts take their `dev_values`.
    ///
    /// # Errors
    ///
    /// As [`up`], after the inputs and the connection.
    pub(crate) async fn run(
        &self,
        stack: &Stack,
        selection: &prepare::Selection,
        options: &UpOptions,
        reporter: &dyn Reporter,
        current: &BTreeMap<String, DeliverSummary>,
        dev: bool,
    ) -> Result<UpOutcome> {
        let (cluster, detection) = (&self.cluster, &self.detection);
        let levels = &selection.levels;
        let services = &selection.services;
        let prepare::Images {
            built: images_built,
            delivered,
        } = prepare::build_and_deliver(stack, selection, options, self.loader.as_ref(), reporter)
            .await?;

        let mut images = delivered.clone();
        for service in services {
            if let (false, Some(known)) = (images.contains_key(service), current.get(service)) {
                images.insert(service.clone(), known.clone());
            }
        }
        let mut plan = plan::build(&plan::Inputs {
            stack,
            levels,
            mapping: Some(&selection.mapping),
            images: &images,
            rollback: options.rollback,
            dev,
        })?;
        plan.options.interrupt.clone_from(&options.interrupt);
        for release in plan.releases() {
            reporter.on_step(&release.service, Step::Rollout, &StepState::Started);
        }
        let outcome = rollout::deploy(&cluster.target, &plan, reporter).await?;

        let mut summaries = Vec::new();
        for service in services {
            let rollout = outcome
                .services
                .iter()
                .find(|s| &s.service == service)
                .cloned();
            let access = match &rollout {
                Some(r) if r.revision.is_some() => {
                    first_access(cluster, detection, stack, service).await?
                }
                _ => None,
            };
            summaries.push(summary(
                service,
                images_built.get(service).cloned(),
                delivered.get(service).cloned(),
                rollout,
                access,
            ));
        }
        Ok(UpOutcome {
            project: stack.project.clone(),
            namespace: stack.namespace.clone(),
            context: cluster.context.name.clone(),
            target: detection.summary(),
            delivery: detection.delivery.clone(),
            succeeded: outcome.succeeded,
            interrupted: outcome.interrupted,
            run_id: outcome.run_id,
            report: outcome.report,
            services: summaries,
            findings: outcome.findings,
        })
    }
}

/// The first way to open `service` from this machine, if it is exposed.
pub(crate) async fn first_access(
    cluster: &cluster::Cluster,
    detection: &hoist_cluster::target::Detection,
    stack: &Stack,
    service: &str,
) -> Result<Option<Access>> {
    let release = plan::release_name(stack, service);
    let exposed = access::exposed(&cluster.target.client, &stack.namespace, &release).await?;
    Ok(exposed
        .first()
        .map(|e| access::access(detection, &cluster.context.server, &stack.namespace, e)))
}

fn summary(
    service: &str,
    build: Option<BuildSummary>,
    deliver: Option<DeliverSummary>,
    rollout: Option<ServiceOutcome>,
    access: Option<Access>,
) -> ServiceSummary {
    let mut skipped = prepare::skipped(build.as_ref(), deliver.as_ref());
    if rollout
        .as_ref()
        .is_some_and(|r| r.action == rollout::Action::Unchanged)
    {
        skipped.push(Skipped {
            step: Step::Rollout,
            reason: "chart, values, image and configuration unchanged, and Ready".to_owned(),
        });
    }
    ServiceSummary {
        service: service.to_owned(),
        image: deliver.as_ref().map(|d| short_digest(&d.digest)),
        build,
        deliver,
        rollout,
        access,
        skipped,
    }
}
