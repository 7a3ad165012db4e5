//! Size budgets: over budget, the build fails and shows where the bytes are.

use std::fmt::Write as _;

use crate::human;
use crate::recipe::Budget;
use crate::untrusted::{FlatFile, Listing, flatten};

/// The image is bigger than its budget.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BudgetError(String);

/// A layer as the budget check sees it.
pub(crate) struct Sized<'a> {
    pub(crate) name: &'a str,
    /// The gzip size (what a registry push sends); read only under a
    /// compressed budget.
    pub(crate) size: u64,
    pub(crate) uncompressed: u64,
    pub(crate) listing: &'a Listing,
}

/// Checks `layers` against `budget`.
///
/// # Errors
///
/// [`BudgetError`] listing the largest layers and the ten largest files
/// (whiteouts applied) with the layer that provides each.
pub(crate) fn check(image: &str, budget: Budget, layers: &[Sized<'_>]) -> Result<(), BudgetError> {
    let uncompressed: u64 = layers.iter().map(|l| l.uncompressed).sum();
    let compressed: u64 = layers.iter().map(|l| l.size).sum();
    let mut over = Vec::new();
    if uncompressed > budget.uncompressed {
        over.push(format!(
            "{} uncompressed (budget {})",
            human(uncompressed),
            human(budget.uncompressed)
        ));
    }
    if let Some(limit) = budget.compressed.filter(|limit| compressed > *limit) {
        over.push(format!(
            "{} compressed (budget {})",
            human(compressed),
            human(limit)
        ));
    }
    if over.is_empty() {
        return Ok(());
    }
    let mut text = format!(
        "image {image} is over its size budget: {}\nlargest layers:\n",
        over.join(", ")
    );
    let mut by_size: Vec<&Sized<'_>> = layers.iter().collect();
    by_size.sort_by(|a, b| b.uncompressed.cmp(&a.uncompressed).then(a.name.cmp(b.name)));
    for layer in by_size {
        // Gzip sizes are only known (made) when a compressed budget asks.
        let _ = if budget.compressed.is_some() {
            writeln!(
                text,
                "  {:>10}  {:>10} compressed  {}",
                human(layer.uncompressed),
                human(layer.size),
                layer.name
            )
        } else {
            writeln!(text, "  {:>10}  {}", human(layer.uncompressed), layer.name)
        };
    }
    text.push_str("largest files:\n");
    let flat = flatten(layers.iter().map(|l| l.listing));
    let mut files: Vec<(&String, &FlatFile)> = flat.iter().collect();
    files.sort_by(|a, b| b.1.size.cmp(&a.1.size).then(a.0.cmp(b.0)));
    for (path, file) in files.into_iter().take(10) {
        let _ = writeln!(
            text,
            "  {:>10}  /{path}  (layer {})",
            human(file.size),
            layers[file.layer].name
        );
    }
    text.push_str("raise `budget` in the image recipe, or exclude what the image does not need");
    Err(BudgetError(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_budget_passes() {
        let listing = Listing::default();
        let layers = [Sized {
            name: "app",
            size: 5,
            uncompressed: 10,
            listing: &listing,
        }];
        check(
            "x",
            Budget {
                uncompressed: 10,
                compressed: Some(5),
            },
            &layers,
        )
        .unwrap();
    }

    #[test]
    fn compressed_budget_alone_can_fail() {
        let listing = Listing::default();
        let layers = [Sized {
            name: "app",
            size: 6,
            uncompressed: 10,
            listing: &listing,
        }];
        let err = check(
            "x",
            Budget {
                uncompressed: 10,
                compressed: Some(5),
            },
            &layers,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("image x is over its size budget: 6 B compressed (budget 5 B)\n"),
            "{err}"
        );
    }
}
