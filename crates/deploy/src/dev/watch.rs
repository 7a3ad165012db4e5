//! The watch: the paths that feed each selected service's image
//! ([`hoist_imager::Sources`]), the stack file and its `.env` files,
//! through notify with a debouncer; each batch of events becomes a
//! [`Change`] naming the services to rebuild.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hoist_config::{EnvInputs, Stack};
use hoist_imager::Sources;
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

use super::cycle::Change;
use crate::{Error, Result, UpOptions, images, prepare};

/// A running watch.
pub(crate) struct Watcher {
    debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    events: mpsc::UnboundedReceiver<DebounceEventResult>,
    /// What feeds each service's image.
    sources: Vec<(String, Sources)>,
    /// The stack file and the `.env` files (existing or not).
    config_files: Vec<PathBuf>,
    /// Watched paths and how.
    watched: Vec<(PathBuf, RecursiveMode)>,
    /// Content hashes of files as the last cycle saw them.
    seen: HashMap<PathBuf, u64>,
}

impl Watcher {
    /// Starts watching what feeds the `selection`'s images and the stack's
    /// configuration files.
    ///
    /// # Errors
    ///
    /// [`Error::Watch`] when a path cannot be watched.
    pub(crate) fn start(
        stack: &Stack,
        selection: &prepare::Selection,
        env: &EnvInputs,
        debounce: Duration,
    ) -> Result<Self> {
        let (tx, events) = mpsc::unbounded_channel();
        let debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
            let _ = tx.send(result);
        })
        .map_err(|cause| Error::Watch {
            path: images::base_dir(stack),
            cause: Box::new(cause),
        })?;
        let mut watcher = Self {
            debouncer,
            events,
            sources: Vec::new(),
            config_files: config_files(stack, env),
            watched: Vec::new(),
            seen: HashMap::new(),
        };
        watcher.set_sources(stack, selection)?;
        Ok(watcher)
    }

    /// Watches the sources of the stack as it is now (after hoist.toml changed).
    ///
    /// # Errors
    ///
    /// As [`Watcher::start`]; input errors of the new stack.
    pub(crate) fn update(&mut self, stack: &Stack, options: &UpOptions) -> Result<()> {
        let selection = prepare::select(stack, options)?;
        self.config_files = config_files(stack, &options.env);
        self.set_sources(stack, &selection)
    }

    fn set_sources(&mut self, stack: &Stack, selection: &prepare::Selection) -> Result<()> {
        let mut sources = Vec::new();
        for (service, recipe) in &selection.recipes {
            let feeds = recipe.sources().map_err(|reason| Error::Watch {
                path: stack.path.clone(),
                cause: reason.into(),
            })?;
            sources.push((service.clone(), feeds));
        }
        let mut wanted: Vec<(PathBuf, RecursiveMode)> = Vec::new();
        let mut want = |path: PathBuf, mode| {
            if !wanted.iter().any(|(p, _)| *p == path) {
                wanted.push((path, mode));
            }
        };
        for root in sources.iter().flat_map(|(_, s)| s.roots()) {
            if root.is_dir() {
                want(root.to_path_buf(), RecursiveMode::Recursive);
            } else if let Some(parent) = root.parent() {
                // A file is watched through its directory: editors replace
                // files by renaming, which ends a watch on the file itself.
                want(parent.to_path_buf(), RecursiveMode::NonRecursive);
            }
        }
        for file in &self.config_files {
            if let Some(parent) = file.parent() {
                want(parent.to_path_buf(), RecursiveMode::NonRecursive);
            }
        }
        for (path, _) in std::mem::take(&mut self.watched) {
            let _ = self.debouncer.unwatch(&path);
        }
        for (path, mode) in wanted {
            if !path.exists() {
                continue;
            }
            self.debouncer
                .watch(&path, mode)
                .map_err(|cause| Error::Watch {
                    path: path.clone(),
                    cause: Box::new(cause),
                })?;
            self.watched.push((path, mode));
        }
        for file in sources
            .iter()
            .flat_map(|(_, s)| s.roots())
            .chain(self.config_files.iter().map(PathBuf::as_path))
        {
            if let Some(hash) = content_hash(file) {
                self.seen.insert(file.to_path_buf(), hash);
            }
        }
        self.sources = sources;
        Ok(())
    }

    /// The watched paths.
    pub(crate) fn roots(&self) -> Vec<PathBuf> {
        self.watched.iter().map(|(p, _)| p.clone()).collect()
    }

    /// The next change that matters: waits for a batch of events, then
    /// takes every batch already queued with it (what landed during the
    /// last cycle), and drops batches that touch nothing that feeds an
    /// image or the configuration. `None` when the watch ended.
    ///
    /// # Errors
    ///
    /// [`Error::Watch`] when the watcher reports an error.
    pub(crate) async fn next(&mut self) -> Result<Option<Change>> {
        loop {
            let Some(first) = self.events.recv().await else {
                return Ok(None);
            };
            let mut batches = vec![first];
            while let Ok(more) = self.events.try_recv() {
                batches.push(more);
            }
            let mut paths = BTreeSet::new();
            let mut first_seen: Option<Instant> = None;
            for batch in batches {
                let events = batch.map_err(|errors| Error::Watch {
                    path: self.roots().first().cloned().unwrap_or_default(),
                    cause: errors
                        .into_iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                        .into(),
                })?;
                for event in events {
                    if matches!(event.kind, EventKind::Access(_)) {
                        continue;
                    }
                    let time = event.time;
                    for path in &event.paths {
                        if self.relevant(path) {
                            paths.insert(path.clone());
                            first_seen = Some(first_seen.map_or(time, |t| t.min(time)));
                        }
                    }
                }
            }
            let change = self.classify(&paths, first_seen);
            if !change.is_empty() {
                return Ok(Some(change));
            }
        }
    }

    /// Whether `path` feeds an image or is a configuration file, and (for a
    /// file) its content differs from what was seen last.
    fn relevant(&mut self, path: &Path) -> bool {
        let fed = self.config_files.iter().any(|f| f == path)
            || self.sources.iter().any(|(_, s)| s.feeds(path));
        if !fed {
            return false;
        }
        // Removed, or a directory: a change.
        let Some(hash) = content_hash(path) else {
            self.seen.remove(path);
            return true;
        };
        self.seen.insert(path.to_path_buf(), hash) != Some(hash)
    }

    fn classify(&self, paths: &BTreeSet<PathBuf>, first_seen: Option<Instant>) -> Change {
        let mut change = Change {
            paths: paths.iter().cloned().collect(),
            first_seen,
            ..Change::default()
        };
        for path in paths {
            if self.config_files.iter().any(|f| f == path) {
                change.config = true;
                if self.config_files.first() == Some(path) {
                    change.stack_file = true;
                }
            }
            for (service, sources) in &self.sources {
                if sources.feeds(path) {
                    change.rebuild.insert(service.clone());
                }
            }
        }
        change
    }
}

/// The stack file first, then its `.env` files: `.env`, `.env.<profile>`
/// and the `--env-file` ones.
fn config_files(stack: &Stack, env: &EnvInputs) -> Vec<PathBuf> {
    let dir = images::base_dir(stack);
    let mut files = vec![std::path::absolute(&stack.path).unwrap_or_else(|_| stack.path.clone())];
    files.push(dir.join(".env"));
    if let Some(profile) = &stack.profile {
        files.push(dir.join(format!(".env.{profile}")));
    }
    for file in &env.env_files {
        files.push(std::path::absolute(file).unwrap_or_else(|_| file.clone()));
    }
    for service in stack.services.values() {
        for file in &service.env.files {
            let path = dir.join(file.get_ref());
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    files
}

/// A hash of a regular file's content (`None` for anything else).
fn content_hash(path: &Path) -> Option<u64> {
    if !path.is_file() {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(hasher.finish())
}
