//! Profiles: a `[profiles.<name>]` table deep-merged over the document.
//!
//! The merge works on the parsed tree, whose every key and value keeps its
//! byte span, so an error in a merged value still points at the line where
//! the profile wrote it.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Merges `over` into `base`: tables merge key by key, anything else replaces.
pub(crate) fn deep_merge<'i>(base: &mut DeTable<'i>, over: DeTable<'i>) {
    for (key, value) in over {
        let span = value.span();
        let value = match value.into_inner() {
            DeValue::Table(over) => {
                if let Some(DeValue::Table(existing)) =
                    base.get_mut(key.get_ref().as_ref()).map(Spanned::get_mut)
                {
                    deep_merge(existing, over);
                    continue;
                }
                DeValue::Table(over)
            }
            other => other,
        };
        base.insert(key, Spanned::new(span, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_and_scalars_replace() {
        let base = "a = 1\n[t]\nx = 1\ny = [1]\n";
        let over = "b = 2\n[t]\ny = [2]\nz = 3\n";
        let mut base_table = DeTable::parse(base).unwrap().into_inner();
        let over_table = DeTable::parse(over).unwrap().into_inner();
        deep_merge(&mut base_table, over_table);
        let merged: toml::Table = serde::Deserialize::deserialize(toml::de::Deserializer::from(
            Spanned::new(0..0, base_table),
        ))
        .unwrap();
        assert_eq!(
            merged.to_string(),
            "a = 1\nb = 2\n\n[t]\nx = 1\ny = [2]\nz = 3\n"
        );
    }
}
