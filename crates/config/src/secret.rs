//! [`SecretValue`]: a value that cannot be printed by accident.

use std::fmt;

/// What every redacted value prints as.
pub const REDACTED: &str = "<redacted>";

/// A sensitive value. `Debug`, `Display` and `Serialize` print
/// [`REDACTED`]; only [`SecretValue::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps `value`.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself. Call it only where the value must leave hoist:
    /// into a Secret object, or a container's environment.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for SecretValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_printing_redacts() {
        let value = SecretValue::new("hunter2-but-longer".to_owned());
        assert_eq!(format!("{value}"), "<redacted>");
        assert_eq!(format!("{value:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&value)), "Some(<redacted>)");
        assert_eq!(serde_json::to_string(&value).unwrap(), "\"<redacted>\"");
        assert_eq!(value.expose(), "hunter2-but-longer");
    }
}
