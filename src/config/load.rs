//! Building a config: TOML text, `--set KEY=VALUE` overrides, the key check (against the tree of
//! the defaults, so the allowed keys are exactly the fields of the types) and deserialization.

use super::{ConfigError, RunConfig, preset};
use std::path::Path;

fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::Toml { origin: origin.to_string(), message: e.to_string() })
}

/// Merge `over` into `base` recursively (tables merge, other values replace).
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The TOML tree of the defaults: the schema against which keys are checked.
pub(super) fn schema() -> toml::Table {
    toml::Table::try_from(RunConfig::default()).expect("default config serializes")
}

/// Check that every key of `t` exists in `schema` (same nesting), naming the allowed keys if not.
fn check_keys(t: &toml::Table, schema: &toml::Table, prefix: &str, origin: &str) -> Result<(), ConfigError> {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match schema.get(k) {
            None => {
                let allowed: Vec<String> = schema
                    .keys()
                    .map(|s| if prefix.is_empty() { s.clone() } else { format!("{prefix}.{s}") })
                    .collect();
                return Err(ConfigError::UnknownKey { origin: origin.to_string(), key, allowed: allowed.join(", ") });
            }
            Some(toml::Value::Table(s)) => {
                if let toml::Value::Table(sub) = v {
                    check_keys(sub, s, &key, origin)?;
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Parse the value part of `--set key=value`: TOML syntax if it parses, else a bare string.
fn parse_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap(),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// Apply one `KEY=VALUE` override (dotted key) to a TOML tree.
pub fn apply_set(t: &mut toml::Table, set: &str) -> Result<(), ConfigError> {
    let (key, raw) = set.split_once('=').ok_or_else(|| ConfigError::SetSyntax(set.to_string()))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = t;
    for p in &parts[..parts.len() - 1] {
        let entry = cur.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(ConfigError::Invalid {
                    key: key.to_string(),
                    message: format!("`{p}` is a value, not a table"),
                });
            }
        };
    }
    cur.insert(parts[parts.len() - 1].to_string(), parse_value(raw.trim()));
    Ok(())
}

impl RunConfig {
    /// Build a config from an optional TOML text (file contents or preset) plus `--set` overrides,
    /// then validate it. `origin` names the source in error messages.
    pub fn from_parts(text: Option<(&str, &str)>, sets: &[String]) -> Result<Self, ConfigError> {
        let cfg = Self::build(text, sets)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Load from a TOML file plus overrides.
    pub fn from_file(path: &Path, sets: &[String]) -> Result<Self, ConfigError> {
        let (text, origin) = file_text(path)?;
        Self::from_parts(Some((&text, &origin)), sets)
    }

    /// Load a named preset plus overrides.
    pub fn from_preset(name: &str, sets: &[String]) -> Result<Self, ConfigError> {
        let (text, origin) = preset_text(name)?;
        Self::from_parts(Some((&text, &origin)), sets)
    }

    /// Load a config (a file, else a preset, else the defaults, plus overrides) for a command
    /// that only builds the network (`silab check-si`): only finite numbers and the `[model]`
    /// section are validated, so that, say, `model.norm = "none"` is not refused for the
    /// default sphere mode, which such a command never uses.
    pub fn model_from(file: Option<&Path>, preset: Option<&str>, sets: &[String]) -> Result<Self, ConfigError> {
        let text = match (file, preset) {
            (Some(path), _) => Some(file_text(path)?),
            (None, Some(name)) => Some(preset_text(name)?),
            (None, None) => None,
        };
        let cfg = Self::build(text.as_ref().map(|(t, o)| (t.as_str(), o.as_str())), sets)?;
        cfg.validate_model()?;
        Ok(cfg)
    }

    /// Parse, apply the overrides, check the keys and deserialize; no value constraints yet.
    fn build(text: Option<(&str, &str)>, sets: &[String]) -> Result<Self, ConfigError> {
        let mut t = toml::Table::new();
        let mut origin = "--set".to_string();
        if let Some((text, o)) = text {
            origin = if sets.is_empty() { o.to_string() } else { format!("{o} with --set") };
            t = parse_table(text, o)?;
        }
        for s in sets {
            apply_set(&mut t, s)?;
        }
        check_keys(&t, &schema(), "", &origin)?;
        let mut full = schema();
        merge(&mut full, t);
        serde_path_to_error::deserialize(toml::Value::Table(full)).map_err(|e| {
            // toml appends "in `key`" on a second line; the key is already in our message.
            let message = e.inner().to_string().lines().next().unwrap_or_default().to_string();
            ConfigError::Key { origin: origin.clone(), key: e.path().to_string(), message }
        })
    }
}

/// The text of a config file and how errors name it.
fn file_text(path: &Path) -> Result<(String, String), ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    Ok((text, path.display().to_string()))
}

/// The overrides of a preset as TOML text, and how errors name it.
fn preset_text(name: &str) -> Result<(String, String), ConfigError> {
    let p = preset(name)?;
    Ok((toml::to_string(&p.table).expect("a preset serializes"), format!("preset `{name}`")))
}

/// Every dotted key of a TOML tree with its value.
pub(super) fn all_keys_of(t: &toml::Table) -> Vec<(String, toml::Value)> {
    fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                toml::Value::Table(s) => walk(s, &key, out),
                v => out.push((key, v.clone())),
            }
        }
    }
    let mut out = vec![];
    walk(t, "", &mut out);
    out
}

/// All dotted keys of the schema with their default values, for `silab presets --keys` and docs.
pub fn all_keys() -> Vec<(String, String)> {
    all_keys_of(&schema()).into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Loss;

    #[test]
    fn set_overrides_and_roundtrip() {
        let c = RunConfig::from_preset("quick", &["optim.elr=0.5".into(), "loss=mse".into()]).unwrap();
        assert_eq!(c.optim.elr, 0.5);
        assert_eq!(c.loss, Loss::Mse);
        let back = RunConfig::from_parts(Some((&c.to_toml(), "x")), &[]).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.hash(), c.hash());
    }

    #[test]
    fn unknown_key_names_key_and_allowed() {
        let e = RunConfig::from_parts(None, &["optim.lrr=0.1".into()]).unwrap_err().to_string();
        assert!(e.contains("optim.lrr") && e.contains("optim.lr") && e.contains("optim.elr"), "{e}");
        let e = RunConfig::from_parts(Some(("[modle]\nwidth=3", "f.toml")), &[]).unwrap_err().to_string();
        assert!(e.contains("modle") && e.contains("model"), "{e}");
    }

    #[test]
    fn bad_values_name_key() {
        let e = RunConfig::from_parts(None, &["loss=hinge".into()]).unwrap_err().to_string();
        assert!(e.contains("loss") && e.contains("ce") && e.contains("mse"), "{e}");
        let e = RunConfig::from_parts(None, &["optim.lr=abc".into()]).unwrap_err().to_string();
        assert!(e.contains("optim.lr"), "{e}");
        let e = RunConfig::from_parts(None, &["model.variant=si".into()]).unwrap_err().to_string();
        assert!(e.contains("model.variant") && e.contains("scale-invariant"), "{e}");
    }

    #[test]
    fn a_model_only_load_leaves_the_optimizer_alone() {
        let sets = ["model.norm=none".to_string()];
        assert_eq!(RunConfig::from_parts(None, &sets).unwrap_err().key(), Some("optim.mode"));
        let c = RunConfig::model_from(None, Some("quick"), &sets).unwrap();
        assert_eq!(c.model.norm, crate::config::NormName::None);
        let e = RunConfig::model_from(None, None, &["model.arch=vit".into(), "model.patch=5".into()]).unwrap_err();
        assert_eq!(e.key(), Some("model.patch"), "{e}");
        let e = RunConfig::model_from(Some(Path::new("/nonexistent/c.toml")), None, &[]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/c.toml"), "{e}");
    }

    #[test]
    fn a_set_through_a_value_names_the_key() {
        let e = RunConfig::from_parts(Some(("seed = 1", "f.toml")), &["seed.x=1".into()]).unwrap_err();
        assert_eq!(e.key(), Some("seed.x"), "{e}");
    }
}
