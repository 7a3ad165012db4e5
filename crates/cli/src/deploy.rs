//! What the lifecycle commands (up, status, logs, down, rollback, render)
//! share: loading the stack, the cluster and registry options, exit codes.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use hoist_cluster::deliver::{RegistryCredentials, RegistryTarget};
use hoist_cluster::env::Environment;
use hoist_config::{EnvInputs, Stack};
use hoist_deploy::{ClusterOptions, REGISTRY_PASSWORD_VAR};

use crate::cli::{ClusterArgs, EnvFileArgs, Global, RegistryArgs};
use crate::exit;

/// The stack file with the profile applied; any problem with it is an input
/// error (exit 2) naming the file and line.
pub(crate) fn stack(global: &Global) -> Result<Stack, ExitCode> {
    crate::stack::read(global).map_err(|error| {
        exit::report(
            &anyhow::Error::new(error).context("failed to load the stack file"),
            exit::USAGE,
        )
    })
}

/// The `.env` inputs: `--env-file` files and the process environment.
pub(crate) fn env_inputs(args: &EnvFileArgs) -> EnvInputs {
    EnvInputs::from_process(args.env_files.clone())
}

/// The cluster options from `--context` and `--timeout`.
pub(crate) fn cluster(args: &ClusterArgs, registry: Option<RegistryTarget>) -> ClusterOptions {
    ClusterOptions {
        env: Environment::current(),
        context: args.context.clone(),
        registry,
        connect_timeout: Duration::from_secs(args.timeout.max(1)),
    }
}

/// `--registry HOST[/PREFIX]` with its credentials, if given.
pub(crate) fn registry(args: &RegistryArgs) -> anyhow::Result<Option<RegistryTarget>> {
    registry_target(
        args.registry.as_deref(),
        args.insecure_registry,
        args.registry_user.as_deref(),
    )
}

/// A registry address with `--insecure-registry` and `--registry-user`; the
/// password is read from `HOIST_REGISTRY_PASSWORD`, so it never appears in `ps`.
pub(crate) fn registry_target(
    address: Option<&str>,
    insecure: bool,
    user: Option<&str>,
) -> anyhow::Result<Option<RegistryTarget>> {
    let Some(address) = address else {
        return Ok(None);
    };
    let credentials = match user {
        Some(user) => Some(RegistryCredentials {
            user: user.to_owned(),
            password: std::env::var(REGISTRY_PASSWORD_VAR).with_context(|| {
                format!("--registry-user {user} needs the password in {REGISTRY_PASSWORD_VAR}")
            })?,
        }),
        None => None,
    };
    Ok(Some(RegistryTarget::parse(address, insecure, credentials)))
}

/// Reports a library error with its exit code: 2 for input errors, 1 else.
pub(crate) fn fail(error: hoist_deploy::Error, context: &'static str) -> ExitCode {
    let code = if error.is_input() {
        exit::USAGE
    } else {
        exit::FAILURE
    };
    exit::report(&anyhow::Error::new(error).context(context), code)
}

/// One finding for people: `FAIL <service> <object>: <cause>: <message>`,
/// then its fix and its log tail, indented.
pub(crate) fn finding(
    out: &mut String,
    service: &str,
    object: &str,
    cause: impl serde::Serialize,
    message: &str,
    fix: Option<&str>,
    logs: &[String],
) {
    let cause = serde_json::to_value(cause)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let object = if object.is_empty() {
        String::new()
    } else {
        format!(" {object}")
    };
    let _ = writeln!(out, "FAIL {service}{object}: {cause}: {message}");
    if let Some(fix) = fix {
        let _ = writeln!(out, "     fix: {fix}");
    }
    for line in logs {
        let _ = writeln!(out, "     | {line}");
    }
}

/// A duration for tables: `45s`, `12m`, `3h`, `2d`.
pub(crate) fn age(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// Lays out rows as columns separated by two spaces, the last one unpadded.
pub(crate) fn columns(rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..width)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_ages_read_like_kubectl() {
        let rows = vec![
            vec!["SERVICE".to_owned(), "READY".to_owned(), "URL".to_owned()],
            vec!["database".to_owned(), "1/1".to_owned(), String::new()],
            vec!["web".to_owned(), "2/2".to_owned(), "http://x".to_owned()],
        ];
        assert_eq!(
            columns(&rows),
            "SERVICE   READY  URL\ndatabase  1/1\nweb       2/2    http://x\n"
        );
        assert_eq!(age(Duration::from_secs(59)), "59s");
        assert_eq!(age(Duration::from_secs(600)), "10m");
        assert_eq!(age(Duration::from_secs(3 * 86_400)), "3d");
    }
}
