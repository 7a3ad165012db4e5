//! `hoist config`: each service's variables, where they came from, and
//! whether they go to the `ConfigMap` or the Secret; `--lint` checks
//! `.env.example` instead.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use hoist_config::{Mapping, Source, Stack};

use crate::cli::{ConfigArgs, Global};

pub(crate) fn run(global: &Global, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::stack::load(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    if args.lint {
        return lint(global, &stack);
    }
    let mapping = match crate::stack::mapping(&stack, &args.env) {
        Ok(mapping) => mapping,
        Err(code) => return Ok(code),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&json(&stack, &mapping))?);
    } else {
        print!("{}", table(&stack, &mapping));
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

fn json(stack: &Stack, mapping: &Mapping) -> serde_json::Value {
    let services: Vec<_> = stack
        .rollout_levels()
        .into_iter()
        .flatten()
        .filter_map(|name| mapping.services.get(&name))
        .map(|env| {
            serde_json::json!({
                "name": env.service,
                "config_map": env.config_map_name(),
                "secret": env.secret_name(),
                "config_hash": env.config_hash(),
                "vars": env.vars,
            })
        })
        .collect();
    serde_json::json!({
        "stack": stack.path,
        "project": mapping.project,
        "namespace": mapping.namespace,
        "profile": mapping.profile,
        "services": services,
    })
}

/// Paths relative to the stack's directory keep the table narrow.
fn short_source(source: &Source, dir: &Path) -> String {
    let short = |path: &Path| path.strip_prefix(dir).unwrap_or(path).display().to_string();
    match source {
        Source::File { path, line } => format!("{}:{line}", short(path)),
        Source::Default(at) => format!("{}:{}:{} (default)", short(&at.file), at.line, at.column),
        Source::Process => source.to_string(),
    }
}

fn table(stack: &Stack, mapping: &Mapping) -> String {
    let mut rows =
        vec![["SERVICE", "KEY", "SOURCE", "TARGET", "REQUIRED", "VALUE"].map(str::to_owned)];
    let mut footer = String::new();
    for name in stack.rollout_levels().into_iter().flatten() {
        let Some(env) = mapping.services.get(&name) else {
            continue;
        };
        for var in &env.vars {
            rows.push([
                name.clone(),
                var.key.clone(),
                short_source(&var.source, stack.dir()),
                var.target.to_string(),
                if var.required { "yes" } else { "no" }.to_owned(),
                // `Display` redacts secrets; escaping keeps one row per line.
                var.value.to_string().escape_debug().to_string(),
            ]);
        }
        let _ = writeln!(
            footer,
            "{name}: ConfigMap {}, Secret {}, {CONFIG_HASH}={}",
            env.config_map_name(),
            env.secret_name(),
            env.config_hash(),
            CONFIG_HASH = hoist_config::CONFIG_HASH_ANNOTATION,
        );
    }
    let widths: Vec<usize> = (0..6)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let profile = mapping.profile.as_deref().unwrap_or("none");
    format!(
        "stack {} (project {}, namespace {}, profile {profile})\n\n{out}\n{footer}",
        stack.path.display(),
        mapping.project,
        mapping.namespace
    )
}

fn lint(global: &Global, stack: &Stack) -> anyhow::Result<ExitCode> {
    let findings = match hoist_config::lint_example(stack) {
        Ok(findings) => findings,
        Err(error) => return Ok(crate::stack::fail(error, "failed to lint .env.example")),
    };
    let example = stack.dir().join(hoist_config::EXAMPLE_FILE);
    if global.json {
        let findings: Vec<String> = findings.iter().map(ToString::to_string).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "example": example, "findings": findings })
            )?
        );
    } else if findings.is_empty() {
        println!(
            "ok: {} documents every variable the stack uses and holds no secrets",
            example.display()
        );
    } else {
        for finding in &findings {
            println!("{finding}");
        }
        println!("{} problem(s) in {}", findings.len(), example.display());
    }
    Ok(if findings.is_empty() {
        ExitCode::from(crate::exit::SUCCESS)
    } else {
        ExitCode::from(crate::exit::FAILURE)
    })
}
