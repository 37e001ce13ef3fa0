//! The config hash that names run directories (`runs/quick-b71c55cd59e8fa8f`) and ties
//! checkpoints and sweep points to their config: it must never change for an existing config.

use super::RunConfig;
use super::load::schema;
use sha2::{Digest, Sha256};

/// Keys added after silab 0.1: left out of [`RunConfig::hash`] while at their default.
pub const LATER_KEYS: &[&str] = &[
    "train.stop_on_nonfinite",
    "train.tensorboard",
    "sharpness.density_probes",
    "optim.name",
    "optim.wd_non_si",
    "optim.nesterov",
    "optim.beta1",
    "optim.beta2",
    "optim.eps",
    "optim.warmup_epochs",
    "optim.warmup_steps",
    "optim.angle",
    "metrics.angles",
    "model.norm",
    "model.groups",
    "model.depth",
    "model.dim",
    "model.heads",
    "model.mlp_ratio",
    "model.patch",
    "model.pool",
    "optim.sphere",
    "model.init_scale",
    "data.file",
    "data.test_file",
    "data.image_size",
    "data.image_column",
    "data.label_column",
    "model.file",
    "model.si_groups",
    "model.frozen",
    "train.stop_when",
    "train.regime_window",
];

impl RunConfig {
    /// Short stable hash of the resolved config: the first 16 hex digits of SHA-256 of its TOML,
    /// leaving out the keys added after silab 0.1 ([`LATER_KEYS`]) while they hold their default,
    /// so that a run made before they existed keeps its hash (its checkpoints still resume, its
    /// sweep's manifest still matches).
    pub fn hash(&self) -> String {
        let mut t = toml::Table::try_from(self).expect("a config serializes");
        let defaults = schema();
        for key in LATER_KEYS {
            let (table, name) = key.split_once('.').unwrap_or(("", key));
            let default = defaults.get(table).and_then(|d| d.get(name)).cloned();
            if let Some(toml::Value::Table(sub)) = t.get_mut(table)
                && sub.get(name) == default.as_ref()
            {
                sub.remove(name);
            }
        }
        let digest = Sha256::digest(toml::to_string(&t).expect("a config serializes").as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_added_later_leave_the_hash_of_older_configs_alone() {
        // the hash silab 0.1 (before train.stop_on_nonfinite existed) gave this config
        let sets = ["train.epochs=1".to_string(), "data.train_size=64".into(), "data.test_size=16".into()];
        assert_eq!(RunConfig::from_parts(None, &sets).unwrap().hash(), "ef446e454de08a0a");
        let mut c = RunConfig::default();
        c.train.stop_on_nonfinite = false;
        assert_ne!(c.hash(), RunConfig::default().hash());
    }

    #[test]
    fn the_quick_preset_keeps_its_run_directory_name() {
        // `silab train --preset quick` writes runs/quick-b71c55cd59e8fa8f (README); resume and
        // existing run directories depend on this value never changing.
        assert_eq!(RunConfig::from_preset("quick", &[]).unwrap().hash(), "b71c55cd59e8fa8f");
        assert_eq!(RunConfig::default().hash(), RunConfig::from_parts(None, &[]).unwrap().hash());
    }

    #[test]
    fn every_later_key_is_a_key() {
        let keys: Vec<String> = crate::config::all_keys().into_iter().map(|(k, _)| k).collect();
        for k in LATER_KEYS {
            assert!(keys.iter().any(|x| x == k), "{k}");
        }
    }
}
