//! TEMPORARY until hoist-secrets lands: replaced by `hoist_secrets`.
pub(crate) fn name_is_sensitive(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["SECRET", "PASSWORD", "TOKEN", "KEY"]
        .iter()
        .any(|w| upper.contains(w))
}
pub(crate) fn value_looks_secret(value: &str) -> Option<&'static str> {
    if value.starts_with("sk-") && value.len() > 20 {
        return Some("openai-api-key");
    }
    if let Some((_, rest)) = value.split_once("://")
        && rest
            .split('/')
            .next()
            .is_some_and(|auth| auth.contains(':') && auth.contains('@'))
    {
        return Some("url-credentials");
    }
    None
}
