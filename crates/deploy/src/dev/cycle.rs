//! One cycle of the loop: which services a change rebuilds and rolls, then
//! the same composition as `up` (build, deliver by digest, plan, rollout)
//! on exactly those, with the images of the others as they were; on the
//! Docker engine, `up --engine docker` of exactly those (`--only`), whose
//! cached builds and fingerprints leave the others' containers alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hoist_cluster::rollout::{self, Action};
use hoist_config::Stack;

use super::{CycleOutcome, DevEvent, DevOptions, DevReporter, Timings};
use crate::images::DeliverSummary;
use crate::report::{Reporter, Step, StepState};
use crate::up::Session;
use crate::{Result, UpOptions, prepare};

/// Where a cycle deploys.
#[derive(Clone, Copy)]
pub(crate) enum Runner<'a> {
    /// The cluster of the session.
    Cluster(&'a Session),
    /// The Docker engine `DOCKER_HOST` names.
    Docker,
}

/// What changed since the last cycle.
#[derive(Debug, Clone, Default)]
pub(crate) struct Change {
    /// The changed paths.
    pub(crate) paths: Vec<PathBuf>,
    /// Services whose images the change feeds.
    pub(crate) rebuild: BTreeSet<String>,
    /// The stack file or a `.env` file changed.
    pub(crate) config: bool,
    /// The stack file changed (reload it).
    pub(crate) stack_file: bool,
    /// When the first of the changes was seen.
    pub(crate) first_seen: Option<Instant>,
    /// Everything: the first cycle.
    pub(crate) all: bool,
}

impl Change {
    /// The first cycle's: build and roll every selected service.
    pub(crate) fn everything() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    /// Nothing to do.
    pub(crate) fn is_empty(&self) -> bool {
        !self.all && !self.config && self.rebuild.is_empty()
    }
}

/// What the loop keeps between cycles.
#[derive(Default)]
pub(crate) struct State {
    /// The cycle number of the next cycle.
    next: u32,
    /// Per service, the image its release runs (after a Ready rollout).
    current: BTreeMap<String, DeliverSummary>,
}

impl State {
    /// Runs one cycle for `change`; reports it and returns whether every
    /// rolled service ended Ready.
    pub(crate) async fn run(
        &mut self,
        stack: &mut Stack,
        runner: Runner<'_>,
        options: &DevOptions,
        change: &Change,
        reporter: &dyn DevReporter,
    ) -> Option<CycleOutcome> {
        let cycle = self.next;
        self.next += 1;
        let started = Instant::now();
        let timing = Timing::new(reporter);
        match self
            .cycle(stack, runner, options, change, cycle, &timing)
            .await
        {
            Ok(outcome) => {
                let mut timings = timing.timings(started);
                timings.waited = change.first_seen.map_or(Duration::ZERO, |seen| {
                    started.saturating_duration_since(seen)
                });
                reporter.on_dev(&DevEvent::CycleFinished {
                    cycle,
                    outcome: outcome.clone(),
                    timings,
                });
                Some(outcome)
            }
            Err(error) => {
                reporter.on_dev(&DevEvent::CycleFailed {
                    cycle,
                    error: hoist_cluster::kubeconfig::error_chain(&error),
                });
                None
            }
        }
    }

    async fn cycle(
        &mut self,
        stack: &mut Stack,
        runner: Runner<'_>,
        options: &DevOptions,
        change: &Change,
        cycle: u32,
        reporter: &Timing<'_>,
    ) -> Result<CycleOutcome> {
        if change.stack_file {
            *stack = Stack::load(&stack.path, stack.profile.as_deref())?;
        }
        let full = prepare::select(stack, &options.up)?;
        // A new stack file may change any recipe; a `.env` file changes
        // configuration only; a source change feeds the images it names.
        let everything = change.all || change.stack_file;
        let rebuild: BTreeSet<String> = full
            .services
            .iter()
            .filter(|s| everything || change.rebuild.contains(*s))
            .cloned()
            .collect();
        let roll: BTreeSet<String> = if everything || change.config {
            full.services.iter().cloned().collect()
        } else {
            rebuild.clone()
        };
        reporter.inner.on_dev(&DevEvent::CycleStarted {
            cycle,
            changed: change.paths.clone(),
            rebuild: ordered(&full.services, &rebuild),
            roll: ordered(&full.services, &roll),
        });
        let session = match runner {
            Runner::Cluster(session) => session,
            Runner::Docker => {
                let options = UpOptions {
                    services: ordered(&full.services, &roll),
                    only: true,
                    ..options.up.clone()
                };
                let outcome = crate::engine::up(stack, &options, reporter).await?;
                return Ok(CycleOutcome::Docker(Box::new(outcome)));
            }
        };
        let selection = prepare::Selection {
            levels: full
                .levels
                .iter()
                .map(|level| {
                    level
                        .iter()
                        .filter(|s| roll.contains(*s))
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .filter(|level| !level.is_empty())
                .collect(),
            services: ordered(&full.services, &roll),
            mapping: full.mapping,
            recipes: full
                .recipes
                .into_iter()
                .filter(|(s, _)| rebuild.contains(s))
                .collect(),
        };
        let outcome = session
            .run(
                stack,
                &selection,
                &options.up,
                reporter,
                &self.current,
                true,
            )
            .await?;
        for service in &outcome.services {
            let ready = service.rollout.as_ref().is_some_and(|r| {
                matches!(
                    r.action,
                    Action::Installed | Action::Upgraded | Action::Unchanged
                )
            });
            if let (true, Some(delivered)) = (ready, &service.deliver) {
                self.current
                    .insert(service.service.clone(), delivered.clone());
            }
        }
        Ok(CycleOutcome::Kubernetes(Box::new(outcome)))
    }
}

fn ordered(all: &[String], wanted: &BTreeSet<String>) -> Vec<String> {
    all.iter()
        .filter(|s| wanted.contains(*s))
        .cloned()
        .collect()
}

/// The cycle's reporter: passes everything on and notes when each step
/// started and ended.
struct Timing<'a> {
    inner: &'a dyn DevReporter,
    marks: Mutex<Marks>,
}

#[derive(Default)]
struct Marks {
    /// Per step, the first start and the last end.
    spans: BTreeMap<&'static str, (Option<Instant>, Option<Instant>)>,
}

impl<'a> Timing<'a> {
    fn new(inner: &'a dyn DevReporter) -> Self {
        Self {
            inner,
            marks: Mutex::new(Marks::default()),
        }
    }

    fn mark(&self, step: &'static str, start: bool) {
        let now = Instant::now();
        let mut marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let span = marks.spans.entry(step).or_default();
        if start {
            span.0.get_or_insert(now);
        } else {
            span.1 = Some(now);
        }
    }

    fn timings(&self, started: Instant) -> Timings {
        let end = Instant::now();
        let marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let span = |step: &str, open_end: bool| {
            marks.spans.get(step).map_or(Duration::ZERO, |(from, to)| {
                let to = if open_end { Some(end) } else { *to };
                match (from, to) {
                    (Some(from), Some(to)) => to.saturating_duration_since(*from),
                    _ => Duration::ZERO,
                }
            })
        };
        Timings {
            waited: Duration::ZERO,
            build: span("build", false),
            deliver: span("deliver", false),
            // The rollout ends with the cycle: the engine reports no end step.
            rollout: span("rollout", true),
            total: end.saturating_duration_since(started),
        }
    }
}

impl hoist_imager::Reporter for Timing<'_> {
    fn on_start(&self, what: &str, total: Option<u64>) -> hoist_imager::TaskId {
        self.inner.on_start(what, total)
    }
    fn on_progress(&self, id: hoist_imager::TaskId, done: u64) {
        self.inner.on_progress(id, done);
    }
    fn on_finish(&self, id: hoist_imager::TaskId, outcome: &str) {
        self.inner.on_finish(id, outcome);
    }
}

impl rollout::Reporter for Timing<'_> {
    fn on_event(&self, event: &rollout::Event) {
        self.inner.on_event(event);
    }
}

impl Reporter for Timing<'_> {
    fn on_step(&self, service: &str, step: Step, state: &StepState) {
        let name = match step {
            Step::Build => "build",
            Step::Deliver => "deliver",
            Step::Rollout => "rollout",
        };
        self.mark(name, matches!(state, StepState::Started));
        self.inner.on_step(service, step, state);
    }
}
