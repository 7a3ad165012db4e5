//! The steps `up` takes on every engine: which services, their variables
//! and recipes (checked before anything connects), then each image built
//! (cached) and delivered by digest through the engine's loader. The
//! Kubernetes and Docker paths differ only in the loader and the runner.

use std::collections::BTreeMap;

use hoist_cluster::deliver::Loader;
use hoist_config::{Mapping, Stack};
use hoist_imager::{Built, Recipe, human};

use crate::images::{self, BuildSummary, DeliverSummary, short_digest};
use crate::report::{Reporter, Step, StepState};
use crate::{Result, Skipped, UpOptions, select};

/// What `up` works on, checked before any cluster or daemon is asked.
pub(crate) struct Selection {
    /// The selected services, level by level in rollout order.
    pub(crate) levels: Vec<Vec<String>>,
    /// The same, flattened.
    pub(crate) services: Vec<String>,
    /// Every service's variables.
    pub(crate) mapping: Mapping,
    /// The recipe of each selected service that has an image table.
    pub(crate) recipes: Vec<(String, Recipe)>,
}

/// Selects the services, maps the variables and reads the recipes.
///
/// # Errors
///
/// Input errors: an unknown service, a `.env` problem, an invalid recipe.
pub(crate) fn select(stack: &Stack, options: &UpOptions) -> Result<Selection> {
    let levels = select::levels(stack, &options.services, options.only)?;
    let services: Vec<String> = levels.iter().flatten().cloned().collect();
    let mapping = hoist_config::resolve(stack, &options.env)?;
    let mut recipes = Vec::new();
    for service in &services {
        if let Some(recipe) = images::recipe(stack, service)? {
            recipes.push((service.clone(), recipe));
        }
    }
    Ok(Selection {
        levels,
        services,
        mapping,
        recipes,
    })
}

/// The images of one run, by service.
pub(crate) struct Images {
    /// What each build did.
    pub(crate) built: BTreeMap<String, BuildSummary>,
    /// What each delivery did.
    pub(crate) delivered: BTreeMap<String, DeliverSummary>,
}

/// Builds every recipe of `selection`, then delivers each image through
/// `loader`, reporting each service's steps.
///
/// # Errors
///
/// [`crate::Error::Build`] and [`crate::Error::Deliver`].
pub(crate) async fn build_and_deliver(
    stack: &Stack,
    selection: &Selection,
    options: &UpOptions,
    loader: &dyn Loader,
    reporter: &dyn Reporter,
) -> Result<Images> {
    let mut built: BTreeMap<String, (Built, BuildSummary)> = BTreeMap::new();
    for (service, recipe) in &selection.recipes {
        reporter.on_step(service, Step::Build, &StepState::Started);
        let image = images::build(stack, service, recipe, &options.build, reporter)?;
        let summary = BuildSummary::from(&image);
        reporter.on_step(service, Step::Build, &build_state(&summary));
        built.insert(service.clone(), (image, summary));
    }
    let mut delivered = BTreeMap::new();
    for (service, (image, _)) in &built {
        reporter.on_step(service, Step::Deliver, &StepState::Started);
        let summary = images::deliver(stack, service, image, loader, reporter).await?;
        reporter.on_step(service, Step::Deliver, &deliver_state(&summary));
        delivered.insert(service.clone(), summary);
    }
    Ok(Images {
        built: built.into_iter().map(|(s, (_, b))| (s, b)).collect(),
        delivered,
    })
}

/// The image steps that did nothing, and why.
pub(crate) fn skipped(
    build: Option<&BuildSummary>,
    deliver: Option<&DeliverSummary>,
) -> Vec<Skipped> {
    let mut skipped = Vec::new();
    if build.is_some_and(|b| b.cached) {
        skipped.push(Skipped {
            step: Step::Build,
            reason: "inputs unchanged: every layer from the cache".to_owned(),
        });
    }
    if let Some(d) = deliver.filter(|d| d.skipped) {
        skipped.push(Skipped {
            step: Step::Deliver,
            reason: format!("{} already has {}", d.target, short_digest(&d.digest)),
        });
    }
    skipped
}

fn build_state(summary: &BuildSummary) -> StepState {
    if summary.cached {
        StepState::Skipped(format!(
            "cached, {} ({})",
            short_digest(&summary.digest),
            human(summary.uncompressed_size)
        ))
    } else {
        StepState::Done(format!(
            "{} layer(s) packed, {} reused, {} ({})",
            summary.layers_packed,
            summary.layers_reused,
            short_digest(&summary.digest),
            human(summary.uncompressed_size)
        ))
    }
}

fn deliver_state(summary: &DeliverSummary) -> StepState {
    if summary.skipped {
        StepState::Skipped(format!("already in {}", summary.target))
    } else {
        StepState::Done(format!(
            "{} sent to {}",
            human(summary.bytes_sent),
            summary.target
        ))
    }
}
