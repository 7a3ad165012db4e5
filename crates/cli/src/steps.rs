//! The lifecycle commands' reporter. On a terminal: one line per service
//! showing its current stage (build, deliver, config, release, waiting,
//! ready, ...), byte bars for builds and deliveries, a pods-ready bar while
//! a service waits. Elsewhere (logs, CI): one stderr line per service and
//! stage as it happens. Silent under `--json`.

use std::collections::HashMap;
use std::sync::Mutex;

use hoist_cluster::rollout::{self, Event};
use hoist_deploy::{Step, StepState};
use hoist_imager::TaskId;
use indicatif::{ProgressBar, ProgressStyle};

use crate::progress::Bars;

pub(crate) struct Steps {
    bars: Bars,
    /// Lines are printed (stderr), drawn above the bars on a terminal.
    lines: bool,
    terminal: bool,
    pods: Mutex<HashMap<String, ProgressBar>>,
    services: Mutex<HashMap<String, ProgressBar>>,
}

impl Steps {
    /// `json`: machine output was asked for, so nothing goes to stderr.
    pub(crate) fn new(json: bool) -> Self {
        let terminal = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Self {
            bars: Bars::new(terminal),
            lines: !json,
            terminal,
            pods: Mutex::new(HashMap::new()),
            services: Mutex::new(HashMap::new()),
        }
    }

    /// One stderr line per service and stage, never bars: for `hoist dev`,
    /// whose log lines would tear bars apart.
    pub(crate) fn plain() -> Self {
        Self {
            bars: Bars::new(false),
            lines: true,
            terminal: false,
            pods: Mutex::new(HashMap::new()),
            services: Mutex::new(HashMap::new()),
        }
    }

    /// Leaves each service's line on its last stage, before the result is printed.
    pub(crate) fn finish(&self) {
        let services = self
            .services
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for bar in services.values() {
            bar.finish();
        }
        for bar in self
            .pods
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
        {
            bar.finish_and_clear();
        }
    }

    fn line(&self, service: &str, stage: &str, text: &str) {
        if !self.lines {
            return;
        }
        let line = format!("{service:<10} {stage:<9} {text}");
        if !self.terminal {
            eprintln!("{}", line.trim_end());
            return;
        }
        let mut services = self
            .services
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bar = services.entry(service.to_owned()).or_insert_with(|| {
            self.bars.multi().add(
                ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                ),
            )
        });
        bar.set_message(line.trim_end().to_owned());
        bar.tick();
    }

    fn pods_bar(&self, service: &str, ready: u32, desired: u32) {
        if !self.terminal {
            return;
        }
        let mut pods = self
            .pods
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bar = pods.entry(service.to_owned()).or_insert_with(|| {
            self.bars.multi().add(
                ProgressBar::new(u64::from(desired)).with_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg:30} [{bar:30}] {pos}/{len} pods ready",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
            )
        });
        bar.set_message(service.to_owned());
        bar.set_length(u64::from(desired));
        bar.set_position(u64::from(ready));
        if ready >= desired && desired > 0 {
            bar.finish_and_clear();
            pods.remove(service);
        }
    }
}

impl hoist_imager::Reporter for Steps {
    fn on_start(&self, what: &str, total: Option<u64>) -> TaskId {
        self.bars.on_start(what, total)
    }
    fn on_progress(&self, id: TaskId, done: u64) {
        self.bars.on_progress(id, done);
    }
    fn on_finish(&self, id: TaskId, outcome: &str) {
        self.bars.on_finish(id, outcome);
    }
}

impl rollout::Reporter for Steps {
    fn on_event(&self, event: &Event) {
        match event {
            Event::Stage { service, stage } => {
                let name = serde_json::to_value(stage)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.line(service, &name, "");
            }
            Event::Skipped { service, reason } => {
                self.line(service, "rollout", &format!("skipped: {reason}"));
            }
            Event::Pod {
                service,
                pod,
                state,
            } => self.line(service, "pod", &format!("{pod} {state}")),
            Event::Progress {
                service,
                ready,
                desired,
            } => self.pods_bar(service, *ready, *desired),
            // Findings are printed first in the final report.
            Event::Finding(_) => {}
        }
    }
}

impl hoist_deploy::Reporter for Steps {
    fn on_step(&self, service: &str, step: Step, state: &StepState) {
        let name = match step {
            Step::Build => "build",
            Step::Deliver => "deliver",
            Step::Rollout => "rollout",
        };
        match state {
            StepState::Started => {}
            StepState::Done(text) => self.line(service, name, text),
            StepState::Skipped(reason) => self.line(service, name, &format!("skipped: {reason}")),
        }
    }
}
