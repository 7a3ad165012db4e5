//! Which variables are secret: explicit lists first, then name rules, then
//! value rules. The rules themselves live in hoist-secrets.

use std::fmt;

use hoist_secrets::{name_is_sensitive, value_looks_secret};

/// Where a variable goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The service's `ConfigMap`: plain configuration.
    ConfigMap,
    /// The service's Secret.
    Secret,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        })
    }
}

/// How the stack file lists a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// In `secret`.
    Secret,
    /// In `config`.
    Config,
    /// In `allow_plain`.
    AllowPlain,
    /// In none of those lists.
    Unlisted,
}

/// Why a variable went where it did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "rule", content = "id")]
pub enum Reason {
    /// Listed in `secret`.
    ListedSecret,
    /// Listed in `config` and nothing about it looks secret.
    ListedConfig,
    /// Listed in `allow_plain`.
    AllowPlain,
    /// Its name looks sensitive.
    SensitiveName,
    /// Its value matches the named value rule.
    SecretValue(String),
    /// Nothing about it looks secret.
    Plain,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ListedSecret => f.write_str("listed in `secret`"),
            Self::ListedConfig => f.write_str("listed in `config`"),
            Self::AllowPlain => f.write_str("listed in `allow_plain`"),
            Self::SensitiveName => f.write_str("name looks sensitive"),
            Self::SecretValue(rule) => write!(f, "value matches rule `{rule}`"),
            Self::Plain => f.write_str("nothing looks secret"),
        }
    }
}

/// Where `key` with `value` goes, or, for a key listed in `config` that
/// looks secret, why it is refused (never containing the value).
///
/// # Errors
///
/// The refusal reason, as text for [`Refusal::why`](crate::Refusal::why).
pub fn classify(key: &str, value: &str, listing: Listing) -> Result<(Target, Reason), String> {
    match listing {
        Listing::Secret => return Ok((Target::Secret, Reason::ListedSecret)),
        Listing::AllowPlain => return Ok((Target::ConfigMap, Reason::AllowPlain)),
        Listing::Config => {
            if name_is_sensitive(key) {
                return Err("has a name that looks sensitive".to_owned());
            }
            if let Some(rule) = value_looks_secret(value) {
                return Err(format!("has a value that matches rule `{rule}`"));
            }
            return Ok((Target::ConfigMap, Reason::ListedConfig));
        }
        Listing::Unlisted => {}
    }
    if name_is_sensitive(key) {
        Ok((Target::Secret, Reason::SensitiveName))
    } else if let Some(rule) = value_looks_secret(value) {
        Ok((Target::Secret, Reason::SecretValue(rule.to_string())))
    } else {
        Ok((Target::ConfigMap, Reason::Plain))
    }
}
