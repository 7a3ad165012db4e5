//! Prepare steps: host commands (`npm ci && npm run build`, `pip install
//! --target ...`) run before packing, skipped when their declared inputs are
//! unchanged and their outputs still exist.

use std::fs;
use std::io::BufReader;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::build::Work;
use crate::cache::Cache;
use crate::digest::{KeyHasher, sha256_reader};
use crate::recipe::{Prepare, Recipe};
use crate::{Error, Reporter, Result};

/// Runs the recipe's prepare steps in order.
///
/// # Errors
///
/// [`Error::Prepare`] when a command fails (with its exit status and the end
/// of its output) or does not produce a declared output.
pub(crate) fn run(
    recipe: &Recipe,
    cache: &Cache,
    reporter: &dyn Reporter,
    work: &mut Work,
) -> Result<()> {
    for step in &recipe.prepare {
        let key = key(step, &recipe.base_dir)?;
        if cache.marked("prepare", &key) && step.outputs.iter().all(|o| o.exists()) {
            work.prepare_skipped += 1;
            continue;
        }
        let task = reporter.on_start(&format!("prepare: {}", step.run), None);
        let dir = step.dir.as_deref().unwrap_or(&recipe.base_dir);
        let output = Command::new("sh")
            .arg("-c")
            .arg(&step.run)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io("run `sh -c`", dir, e))?;
        if !output.status.success() {
            reporter.on_finish(task, "failed");
            let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
            if text.trim().is_empty() {
                text = String::from_utf8_lossy(&output.stdout).into_owned();
            }
            // Tools put the cause first and usage or hints last: keep both ends.
            let lines: Vec<&str> = text.lines().collect();
            let shown = if lines.len() <= 24 {
                lines.join("\n")
            } else {
                format!(
                    "{}\n...\n{}",
                    lines[..12].join("\n"),
                    lines[lines.len() - 12..].join("\n")
                )
            };
            return Err(Error::Prepare {
                run: step.run.clone(),
                reason: format!("{} in {}:\n{shown}", output.status, dir.display()),
            });
        }
        if let Some(missing) = step.outputs.iter().find(|o| !o.exists()) {
            reporter.on_finish(task, "failed");
            return Err(Error::Prepare {
                run: step.run.clone(),
                reason: format!(
                    "it succeeded but did not create the declared output {}",
                    missing.display()
                ),
            });
        }
        // The key is taken again: a step may rewrite its own inputs (npm ci
        // touches package-lock.json), and the next build sees them as they are now.
        cache.mark("prepare", &self::key(step, &recipe.base_dir)?)?;
        work.prepare_run += 1;
        reporter.on_finish(task, "done");
    }
    Ok(())
}

/// The step's identity: its command, and its paths and input contents as
/// seen from the recipe's directory, so a moved or copied project (a CI
/// checkout, a second working copy) whose inputs and outputs are the same
/// skips the step, as the layer cache does.
fn key(step: &Prepare, base_dir: &Path) -> Result<String> {
    let relative = |path: &Path| -> Vec<u8> {
        path.strip_prefix(base_dir)
            .unwrap_or(path)
            .as_os_str()
            .as_encoded_bytes()
            .to_vec()
    };
    let mut key = KeyHasher::new("hoist-prepare-v2");
    key.field(step.run.as_bytes());
    if let Some(dir) = &step.dir {
        key.field(&relative(dir));
    }
    for output in &step.outputs {
        key.field(&relative(output));
    }
    for input in &step.inputs {
        key.field(&relative(input));
        hash_tree(input, &relative, &mut key)?;
    }
    Ok(key.finish())
}

fn hash_tree(path: &Path, relative: &dyn Fn(&Path) -> Vec<u8>, key: &mut KeyHasher) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        key.field(b"missing");
        return Ok(());
    };
    if meta.is_dir() {
        let mut children: Vec<_> = fs::read_dir(path)
            .map_err(|e| Error::io("read directory", path, e))?
            .filter_map(std::result::Result::ok)
            .map(|e| e.path())
            .collect();
        children.sort();
        for child in children {
            key.field(&relative(&child));
            hash_tree(&child, relative, key)?;
        }
    } else if meta.is_file() {
        let file = fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
        let (digest, _) =
            sha256_reader(BufReader::new(file)).map_err(|e| Error::io("read", path, e))?;
        key.field(digest.as_bytes());
    } else if meta.is_symlink() {
        let target = fs::read_link(path).map_err(|e| Error::io("read link", path, e))?;
        key.field(target.as_os_str().as_encoded_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoReporter;

    fn recipe(dir: &Path, run: &str) -> Recipe {
        let text =
            format!("[[prepare]]\nrun = '''{run}'''\ninputs = [\"in.txt\"]\noutputs = [\"out\"]\n");
        Recipe::from_toml_str(&text, dir).unwrap()
    }

    #[test]
    fn runs_once_per_input_content() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("in.txt"), "1").unwrap();
        let recipe = recipe(dir.path(), "cat in.txt >> out");
        let cache = Cache::open(cache_dir.path(), true).unwrap();
        let mut work = Work::default();
        run(&recipe, &cache, &NoReporter, &mut work).unwrap();
        run(&recipe, &cache, &NoReporter, &mut work).unwrap();
        assert_eq!((work.prepare_run, work.prepare_skipped), (1, 1));
        fs::write(dir.path().join("in.txt"), "2").unwrap();
        run(&recipe, &cache, &NoReporter, &mut work).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("out")).unwrap(), "12");
        fs::remove_file(dir.path().join("out")).unwrap();
        run(&recipe, &cache, &NoReporter, &mut work).unwrap();
        assert_eq!(work.prepare_run, 3);
    }

    #[test]
    fn a_copied_project_with_its_outputs_skips_the_step_and_changed_inputs_do_not() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(cache_dir.path(), true).unwrap();
        let mut work = Work::default();
        fs::write(one.path().join("in.txt"), "1").unwrap();
        run(
            &recipe(one.path(), "cat in.txt >> out"),
            &cache,
            &NoReporter,
            &mut work,
        )
        .unwrap();
        for name in ["in.txt", "out"] {
            fs::copy(one.path().join(name), two.path().join(name)).unwrap();
        }
        let copy = recipe(two.path(), "cat in.txt >> out");
        run(&copy, &cache, &NoReporter, &mut work).unwrap();
        assert_eq!((work.prepare_run, work.prepare_skipped), (1, 1));
        fs::write(two.path().join("in.txt"), "2").unwrap();
        run(&copy, &cache, &NoReporter, &mut work).unwrap();
        assert_eq!(fs::read_to_string(two.path().join("out")).unwrap(), "12");
        assert_eq!(work.prepare_run, 2);
    }

    #[test]
    fn a_failing_command_shows_its_status_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let recipe = recipe(dir.path(), "echo no requirements.txt >&2; exit 3");
        let cache = Cache::open(cache_dir.path(), true).unwrap();
        let err = run(&recipe, &cache, &NoReporter, &mut Work::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "prepare step `echo no requirements.txt >&2; exit 3` failed: exit status: 3 in {}:\nno requirements.txt",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_missing_output_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let recipe = recipe(dir.path(), "true");
        let cache = Cache::open(cache_dir.path(), true).unwrap();
        let err = run(&recipe, &cache, &NoReporter, &mut Work::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "prepare step `true` failed: it succeeded but did not create the declared output {}",
                dir.path().join("out").display()
            )
        );
    }
}
