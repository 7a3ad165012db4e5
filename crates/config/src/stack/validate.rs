//! Consistency checks on a deserialized stack, and the rollout order.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::Ctx;
use super::schema::{EnvSpec, RawStack, Service};
use crate::error::StackError;
use crate::location::nearest;

pub(super) fn stack(
    ctx: &Ctx<'_>,
    raw: &RawStack,
    name_spans: &BTreeMap<String, Range<usize>>,
) -> Result<(), StackError> {
    label(ctx, "project", &raw.project)?;
    if let Some(namespace) = &raw.namespace {
        label(ctx, "namespace", namespace)?;
    }
    for (name, service) in &raw.services {
        let span = name_spans.get(name).cloned().unwrap_or(0..0);
        label(ctx, "service name", &Spanned::new(span, name.clone()))?;
        env(ctx, name, &service.env)?;
        super::engine::validate(ctx, name, service)?;
        if let Some(chart) = &service.chart {
            chart_set(ctx, name, &chart.set)?;
        }
        for target in &service.depends_on {
            if !raw.services.contains_key(target.get_ref()) {
                return Err(StackError::UnknownDependency {
                    location: ctx.location(target.span().start),
                    service: name.clone(),
                    target: target.get_ref().clone(),
                    suggestion: nearest(target.get_ref(), raw.services.keys().map(String::as_str))
                        .map(str::to_owned),
                });
            }
        }
    }
    if let Some(registry) = &raw.registry {
        registry_address(ctx, &registry.address)?;
    }
    for (registry, mirrors) in &raw.registries.mirrors {
        for mirror in mirrors {
            mirror_host(ctx, registry, mirror)?;
        }
    }
    if let Some((path, span)) = find_cycle(&raw.services) {
        return Err(StackError::Cycle {
            location: ctx.location(span.start),
            path,
        });
    }
    Ok(())
}

fn label(ctx: &Ctx<'_>, what: &'static str, name: &Spanned<String>) -> Result<(), StackError> {
    let Some(reason) = dns_label_problem(name.get_ref()) else {
        return Ok(());
    };
    Err(StackError::InvalidName {
        location: ctx.location(name.span().start),
        what,
        name: name.get_ref().clone(),
        reason,
        fixed: fixed_label(name.get_ref()),
    })
}

/// Which DNS-1123 label rule `name` breaks, if any.
fn dns_label_problem(name: &str) -> Option<&'static str> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 63 {
        Some("it is longer than 63 characters")
    } else if name.chars().any(|c| c.is_ascii_uppercase()) {
        Some("it has uppercase letters")
    } else if !name.chars().all(|c| valid_char(c) || c == '-') {
        Some("it has characters other than lowercase letters, digits and `-`")
    } else if !name.starts_with(valid_char) || !name.ends_with(valid_char) {
        Some("it starts or ends with `-`")
    } else {
        None
    }
}

fn fixed_label(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed: String = mapped.trim_matches('-').chars().take(63).collect();
    let trimmed = trimmed.trim_end_matches('-');
    if trimmed.is_empty() {
        "app".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn env(ctx: &Ctx<'_>, service: &str, spec: &EnvSpec) -> Result<(), StackError> {
    let lists: [(&'static str, &[Spanned<String>]); 5] = [
        ("required", &spec.required),
        ("keys", &spec.keys),
        ("secret", &spec.secret),
        ("config", &spec.config),
        ("allow_plain", &spec.allow_plain),
    ];
    for (_, list) in lists {
        for key in list {
            if !is_env_name(key.get_ref()) {
                return Err(StackError::InvalidKey {
                    location: ctx.location(key.span().start),
                    key: key.get_ref().clone(),
                });
            }
        }
    }
    for (key, value) in &spec.defaults {
        if !is_env_name(key) {
            return Err(StackError::InvalidKey {
                location: ctx.location(value.span().start),
                key: key.clone(),
            });
        }
    }
    // `allow_plain` implies plain configuration, so only `secret` contradicts the others.
    for (other, list) in [("config", &spec.config), ("allow_plain", &spec.allow_plain)] {
        if let Some(key) = list
            .iter()
            .find(|k| EnvSpec::lists(&spec.secret, k.get_ref()).is_some())
        {
            return Err(StackError::ConflictingLists {
                location: ctx.location(key.span().start),
                service: service.to_owned(),
                key: key.get_ref().clone(),
                first: "secret",
                second: other,
            });
        }
    }
    Ok(())
}

/// `chart.set`: scalars only, and nothing that belongs in a Secret, since
/// these values go on helm's command line and into the release.
fn chart_set(
    ctx: &Ctx<'_>,
    service: &str,
    set: &BTreeMap<String, Spanned<toml::Value>>,
) -> Result<(), StackError> {
    for (key, value) in set {
        let invalid = |message: String| StackError::Invalid {
            location: ctx.location(value.span().start),
            message,
        };
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(invalid(format!(
                "services.{service}.chart.set: `{key}` is not a chart value path; write dotted keys such as \"image.pullPolicy\""
            )));
        }
        if !matches!(
            value.get_ref(),
            toml::Value::String(_)
                | toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Boolean(_)
        ) {
            return Err(invalid(format!(
                "services.{service}.chart.set.\"{key}\" must be a string, number or boolean; put lists and tables in a values file under chart.values"
            )));
        }
        let last = key.rsplit('.').next().unwrap_or(key);
        let text = super::schema::scalar_text(value.get_ref());
        if hoist_secrets::name_is_sensitive(last)
            || hoist_secrets::value_looks_secret(&text).is_some()
        {
            return Err(invalid(format!(
                "services.{service}.chart.set.\"{key}\" looks like a secret, and chart.set values go on helm's command line and into the release; put it in .env and list it in services.{service}.env.secret"
            )));
        }
    }
    Ok(())
}

/// `registry.address` is `HOST[:PORT][/PREFIX]`, without a scheme.
fn registry_address(ctx: &Ctx<'_>, address: &Spanned<String>) -> Result<(), StackError> {
    let text = address.get_ref();
    let problem = if text.trim().is_empty() {
        Some("it is empty")
    } else if text.contains("://") {
        Some(
            "it has a scheme; write the host without http:// or https:// (set `insecure = true` for plain HTTP)",
        )
    } else if text.chars().any(char::is_whitespace) {
        Some("it has whitespace")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(reason) => Err(StackError::Invalid {
            location: ctx.location(address.span().start),
            message: format!(
                "registry.address `{text}` is not HOST[:PORT][/PREFIX] ({reason}), e.g. \"registry.example.com/team\""
            ),
        }),
    }
}

/// A mirror is `HOST[:PORT]`: the repository path stays the image's own.
fn mirror_host(ctx: &Ctx<'_>, registry: &str, mirror: &Spanned<String>) -> Result<(), StackError> {
    let text = mirror.get_ref();
    let problem = if text.trim().is_empty() {
        "it is empty"
    } else if text.contains("://") {
        "it has a scheme; write the host without http:// or https:// (loopback mirrors are reached over plain HTTP)"
    } else if text.contains('/') || text.chars().any(char::is_whitespace) {
        "it has a path or whitespace; a mirror keeps the image's repository"
    } else {
        return Ok(());
    };
    Err(StackError::Invalid {
        location: ctx.location(mirror.span().start),
        message: format!(
            "registries.mirrors.\"{registry}\" entry `{text}` is not HOST[:PORT] ({problem}), e.g. \"127.0.0.1:5002\""
        ),
    })
}

/// Whether `name` is `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The first cycle found (services in name order, edges in written order),
/// with the span of the edge that closes it.
fn find_cycle(services: &BTreeMap<String, Service>) -> Option<(Vec<String>, Range<usize>)> {
    fn visit<'a>(
        name: &'a str,
        services: &'a BTreeMap<String, Service>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<(Vec<String>, Range<usize>)> {
        if done.contains(name) {
            return None;
        }
        stack.push(name);
        for target in services
            .get(name)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or_default()
        {
            let target_name = target.get_ref().as_str();
            if let Some(start) = stack.iter().position(|s| *s == target_name) {
                let mut path: Vec<String> =
                    stack[start..].iter().map(|s| (*s).to_owned()).collect();
                path.push(target_name.to_owned());
                return Some((path, target.span()));
            }
            if let Some((key, _)) = services.get_key_value(target_name)
                && let Some(found) = visit(key, services, stack, done)
            {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(name);
        None
    }
    let mut done = BTreeSet::new();
    services
        .keys()
        .find_map(|name| visit(name, services, &mut Vec::new(), &mut done))
}

/// Kahn's algorithm by levels; the stack is known to be acyclic.
pub(super) fn levels(services: &BTreeMap<String, Service>) -> Vec<Vec<String>> {
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut levels = Vec::new();
    while placed.len() < services.len() {
        let level: Vec<String> = services
            .iter()
            .filter(|(name, _)| !placed.contains(name.as_str()))
            .filter(|(_, service)| {
                service
                    .depends_on
                    .iter()
                    .all(|d| placed.contains(d.get_ref().as_str()))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if level.is_empty() {
            break; // Only reachable with a cycle, which validation rejects.
        }
        placed.extend(
            services
                .keys()
                .filter(|k| level.contains(k))
                .map(String::as_str),
        );
        levels.push(level);
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert_eq!(dns_label_problem("todo-chatbot"), None);
        assert_eq!(dns_label_problem("a1"), None);
        assert_eq!(dns_label_problem("Back"), Some("it has uppercase letters"));
        assert_eq!(
            dns_label_problem("back_end"),
            Some("it has characters other than lowercase letters, digits and `-`")
        );
        assert_eq!(dns_label_problem("-x"), Some("it starts or ends with `-`"));
        assert_eq!(
            dns_label_problem(&"a".repeat(64)),
            Some("it is longer than 63 characters")
        );
        assert_eq!(fixed_label("Back_End-"), "back-end");
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("DATABASE_URL"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }
}
