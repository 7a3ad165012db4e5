//! The indicatif implementation of the libraries' `Reporter` trait.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hoist_imager::{Reporter, TaskId};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws one bar per unit of work on stderr; hidden when stderr is not a
/// terminal or when `--json` asked for machine output.
pub(crate) struct Bars {
    multi: MultiProgress,
    active: Mutex<HashMap<u64, ProgressBar>>,
    next: AtomicU64,
}

impl Bars {
    pub(crate) fn new(visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            active: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }
}

impl Bars {
    /// The bars' container, for lines printed above them.
    pub(crate) fn multi(&self) -> &MultiProgress {
        &self.multi
    }
}

impl Reporter for Bars {
    fn on_start(&self, what: &str, total: Option<u64>) -> TaskId {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
        let bar = self.multi.add(bar.with_message(what.to_owned()));
        self.active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, bar);
        TaskId(id)
    }

    fn on_progress(&self, id: TaskId, done: u64) {
        if let Some(bar) = self
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id.0)
        {
            bar.set_position(done);
        }
    }

    fn on_finish(&self, id: TaskId, outcome: &str) {
        if let Some(bar) = self
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id.0)
        {
            bar.finish_with_message(outcome.to_owned());
        }
    }
}
