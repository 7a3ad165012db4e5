//! `hoist build [SERVICE...]`: builds the images the stack file's
//! `[services.<name>.image]` tables describe, without a Docker daemon.
//!
//! The stack file is read by hoist-config and the recipes through
//! hoist-deploy, the same way `hoist up` reads them.

use std::process::ExitCode;

use anyhow::Context as _;
use hoist_deploy::{BuildSettings, images};
use hoist_imager::{Built, Recipe, human};

use crate::cli::{BuildArgs, Global};
use crate::progress::Bars;

pub(crate) fn run(global: &Global, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::stack::load(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let file = stack.path.display().to_string();
    let mut recipes: Vec<(String, Recipe)> = Vec::new();
    for name in stack.rollout_levels().into_iter().flatten() {
        if let Some(recipe) = images::recipe(&stack, &name)? {
            recipes.push((name, recipe));
        }
    }
    if recipes.is_empty() {
        anyhow::bail!("{file} declares no [services.<name>.image] table; nothing to build");
    }
    let selected: Vec<&(String, Recipe)> = if args.services.is_empty() {
        recipes.iter().collect()
    } else {
        args.services
            .iter()
            .map(|name| {
                recipes.iter().find(|(n, _)| n == name).with_context(|| {
                    let known: Vec<&str> = recipes.iter().map(|(n, _)| n.as_str()).collect();
                    format!(
                        "no service `{name}` with an [services.{name}.image] table in {file}; images: {}",
                        known.join(", ")
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let bars = Bars::new(!global.json && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let settings = BuildSettings {
        cache_dir: args.cache_dir.clone(),
        no_cache: args.no_cache,
    };
    let mut built = Vec::new();
    for (name, recipe) in selected {
        let image = images::build(&stack, name, recipe, &settings, &bars)?;
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

fn print_human(image: &Built) {
    println!("{}  {}", image.service, image.reference);
    // Layers are written uncompressed; gzip is made only for a registry push.
    for layer in &image.layers {
        println!(
            "  {:<12} {:>10}  {}{}",
            layer.name,
            human(layer.uncompressed_size),
            &layer.digest[..19],
            if layer.cached { "  (cached)" } else { "" }
        );
    }
    println!("  {:<12} {:>10}", "total", human(image.uncompressed_size));
    println!("  digest   {}", image.manifest_digest);
    println!("  layout   {}", image.layout.display());
    println!("  archive  {}", image.archive.display());
}
