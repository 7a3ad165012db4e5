//! Which services a command works on: the ones named, with what they depend
//! on (unless `--only`), in rollout order.

use std::collections::BTreeSet;

use hoist_config::Stack;

use crate::{Error, Result};

/// The services of `stack` that `names` select, level by level in rollout
/// order. No names selects every service; a named service brings the
/// services it depends on (transitively) unless `only`.
///
/// # Errors
///
/// [`Error::UnknownService`] for a name that is not a service of the stack.
pub fn levels(stack: &Stack, names: &[String], only: bool) -> Result<Vec<Vec<String>>> {
    let wanted = selected(stack, names, only)?;
    Ok(stack
        .rollout_levels()
        .into_iter()
        .map(|level| {
            level
                .into_iter()
                .filter(|s| wanted.contains(s))
                .collect::<Vec<_>>()
        })
        .filter(|level| !level.is_empty())
        .collect())
}

/// The selected services, flattened in rollout order.
///
/// # Errors
///
/// As [`levels`].
pub fn ordered(stack: &Stack, names: &[String], only: bool) -> Result<Vec<String>> {
    Ok(levels(stack, names, only)?.into_iter().flatten().collect())
}

fn selected(stack: &Stack, names: &[String], only: bool) -> Result<BTreeSet<String>> {
    if names.is_empty() {
        return Ok(stack.services.keys().cloned().collect());
    }
    let mut wanted = BTreeSet::new();
    let mut todo: Vec<String> = Vec::new();
    for name in names {
        if !stack.services.contains_key(name) {
            return Err(Error::UnknownService {
                name: name.clone(),
                file: stack.path.clone(),
                known: stack
                    .services
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        todo.push(name.clone());
    }
    while let Some(name) = todo.pop() {
        if !wanted.insert(name.clone()) || only {
            continue;
        }
        if let Some(service) = stack.services.get(&name) {
            todo.extend(service.depends_on.iter().map(|d| d.get_ref().clone()));
        }
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        let text = r#"project = "shop"
[services.db]
[services.api]
depends_on = ["db"]
[services.web]
depends_on = ["api"]
[services.jobs]
depends_on = ["db"]
"#;
        Stack::parse(std::path::Path::new("hoist.toml"), text.to_owned(), None).unwrap()
    }

    #[test]
    fn a_named_service_brings_its_dependencies_unless_only() {
        let stack = stack();
        assert_eq!(
            levels(&stack, &[], false).unwrap(),
            [vec!["db"], vec!["api", "jobs"], vec!["web"]]
        );
        assert_eq!(
            levels(&stack, &["web".to_owned()], false).unwrap(),
            [vec!["db"], vec!["api"], vec!["web"]]
        );
        assert_eq!(
            levels(&stack, &["web".to_owned()], true).unwrap(),
            [vec!["web"]]
        );
        assert_eq!(
            ordered(&stack, &["jobs".to_owned(), "api".to_owned()], false).unwrap(),
            ["db", "api", "jobs"]
        );
    }

    #[test]
    fn an_unknown_service_is_named_with_the_known_ones() {
        let error = levels(&stack(), &["frontend".to_owned()], false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no service `frontend` in hoist.toml; the services are: api, db, jobs, web"
        );
        assert!(error.is_input());
    }
}
