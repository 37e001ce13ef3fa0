//! The named presets of `silab train --preset NAME`, compiled in from `presets.toml`.

use super::ConfigError;

/// A named preset: a line about it and its overrides of the defaults (a TOML tree).
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// The name `--preset` takes.
    pub name: String,
    /// One line for `silab presets`.
    pub about: String,
    /// The overrides of the defaults.
    pub table: toml::Table,
}

/// The presets, from `presets.toml` (compiled in), in file order.
pub fn presets() -> Vec<Preset> {
    // presets.toml is part of the binary and a test parses every preset, so a malformed file
    // is a build defect, not bad input.
    let all: toml::Table = include_str!("presets.toml").parse().expect("presets.toml parses");
    all.into_iter()
        .map(|(name, v)| {
            let mut table = match v {
                toml::Value::Table(t) => t,
                _ => panic!("presets.toml: `{name}` is not a table"),
            };
            let about = table.remove("about").and_then(|a| a.as_str().map(String::from)).unwrap_or_default();
            Preset { name, about, table }
        })
        .collect()
}

/// The overrides of the preset `name`, or an error listing the presets.
pub fn preset(name: &str) -> Result<Preset, ConfigError> {
    let all = presets();
    let names = all.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join(", ");
    all.into_iter()
        .find(|p| p.name == name)
        .ok_or(ConfigError::UnknownPreset { name: name.to_string(), available: names })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;

    #[test]
    fn presets_parse_and_validate() {
        let all = presets();
        assert!(all.len() >= 5);
        for p in all {
            assert!(!p.about.is_empty(), "{}", p.name);
            RunConfig::from_preset(&p.name, &[]).unwrap();
        }
        let e = RunConfig::from_preset("quik", &[]).unwrap_err().to_string();
        assert!(e.contains("quik") && e.contains("full-quick"), "{e}");
    }
}
