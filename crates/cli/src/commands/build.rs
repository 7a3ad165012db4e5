//! `hoist build [SERVICE...]`: builds the images the stack file's
//! `[services.<name>.image]` tables describe, without a Docker daemon.
//!
//! The image tables are read here with `toml` (hoist-config hands them on
//! opaque); everything else about a build is `hoist_imager::build`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use hoist_imager::{BuildOptions, Built, Recipe, human};

use crate::cli::{BuildArgs, Global};
use crate::progress::Bars;

pub(crate) fn run(global: &Global, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let stack_file = match &global.file {
        Some(file) => file.clone(),
        None => hoist_config::find_stack_file(Path::new("."))?,
    };
    // Absolute, so the paths in `Built` (and --json) mean the same from anywhere.
    let stack_file = std::path::absolute(&stack_file).unwrap_or(stack_file);
    let text = std::fs::read_to_string(&stack_file)
        .with_context(|| format!("failed to read {}", stack_file.display()))?;
    let stack: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{} is not valid TOML", stack_file.display()))?;
    let base_dir = stack_file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let images = image_tables(&stack, &stack_file)?;
    let selected: Vec<&(String, toml::Table)> = if args.services.is_empty() {
        images.iter().collect()
    } else {
        args.services
            .iter()
            .map(|name| {
                images.iter().find(|(n, _)| n == name).with_context(|| {
                    let known: Vec<&str> = images.iter().map(|(n, _)| n.as_str()).collect();
                    format!(
                        "no service `{name}` with an [services.{name}.image] table in {}; images: {}",
                        stack_file.display(),
                        known.join(", ")
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let bars = Bars::new(!global.json && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let revision = git_revision(&base_dir);
    let mut built = Vec::new();
    for (name, table) in selected {
        let recipe =
            Recipe::from_table_with_profile(table.clone(), &base_dir, global.profile.as_deref())
                .with_context(|| format!("services.{name}.image in {}", stack_file.display()))?;
        let mut options = BuildOptions::new(name, base_dir.join(".hoist/images").join(name));
        if let Some(cache) = &args.cache_dir {
            options.cache_dir.clone_from(cache);
        }
        options.no_cache = args.no_cache;
        options.revision.clone_from(&revision);
        let image = hoist_imager::build(&recipe, &options, &bars)
            .with_context(|| format!("failed to build the image of service `{name}`"))?;
        if !global.json {
            print_human(&image);
        }
        built.push(image);
    }
    if global.json {
        println!("{}", serde_json::to_string_pretty(&built)?);
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

fn image_tables(stack: &toml::Table, file: &Path) -> anyhow::Result<Vec<(String, toml::Table)>> {
    let Some(services) = stack.get("services").and_then(toml::Value::as_table) else {
        bail!(
            "{} has no [services] table; declare [services.<name>.image] for each image",
            file.display()
        );
    };
    let mut images = Vec::new();
    for (name, service) in services {
        if let Some(image) = service.get("image") {
            let table = image.as_table().with_context(|| {
                format!(
                    "services.{name}.image in {} must be a table",
                    file.display()
                )
            })?;
            // An empty table is a placeholder: that service has no image to build yet.
            if !table.is_empty() {
                images.push((name.clone(), table.clone()));
            }
        }
    }
    if images.is_empty() {
        bail!(
            "{} declares no [services.<name>.image] table; nothing to build",
            file.display()
        );
    }
    Ok(images)
}

fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn print_human(image: &Built) {
    println!("{}  {}", image.service, image.reference);
    for layer in &image.layers {
        println!(
            "  {:<12} {:>10} {:>10} compressed  {}{}",
            layer.name,
            human(layer.uncompressed_size),
            human(layer.size),
            &layer.digest[..19],
            if layer.cached { "  (cached)" } else { "" }
        );
    }
    println!(
        "  {:<12} {:>10} {:>10} compressed",
        "total",
        human(image.uncompressed_size),
        human(image.size)
    );
    println!("  digest   {}", image.manifest_digest);
    println!("  layout   {}", image.layout.display());
    println!("  archive  {}", image.archive.display());
}
