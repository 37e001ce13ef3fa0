//! Training a run longer (`silab train --resume DIR --epochs N`), and saying what changed when a
//! run's `config.toml` no longer matches its checkpoints.
//!
//! An extended run equals a run configured for `N` epochs from the start (its `metrics.csv` but
//! `wall_time`, its weights), since nothing a step does depends on `train.epochs` except a
//! `cosine` schedule, which is refused. `config.toml` is rewritten with `train.epochs = N` and
//! the extension is recorded in `summary.json` (`extensions`) and `log.txt`; the checkpoints
//! written before it carry the hash of the shorter config, which the record vouches for
//! ([`accepted_hashes`]). The run directory keeps its name (the hash of the config it started
//! with).

use super::{RunError, Summary, Trainer, diverged, ended_early};
use crate::config::{RunConfig, Schedule};
use crate::run::RunState;
use crate::store::{self, Lock, RunDir};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One extension of a run, as `summary.json` records it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Extension {
    /// `train.epochs` before.
    pub from_epochs: usize,
    /// `train.epochs` after.
    pub to_epochs: usize,
    /// When, in seconds since the Unix epoch.
    pub at_unix: f64,
}

/// The config hashes a checkpoint of the run may carry: its config's, and those of the shorter
/// configs it had before each recorded extension.
pub fn accepted_hashes(cfg: &RunConfig, extensions: &[Extension]) -> Vec<String> {
    let mut out = vec![cfg.hash()];
    for e in extensions {
        let mut shorter = cfg.clone();
        shorter.train.epochs = e.from_epochs;
        out.push(shorter.hash());
    }
    out
}

/// The keys whose values differ between the config TOML a checkpoint was written with and
/// `now`, as `key old -> new, ...` (`None` when the old TOML does not parse or nothing differs).
pub fn config_diff(old_toml: &str, now: &RunConfig) -> Option<String> {
    let old: toml::Table = old_toml.parse().ok()?;
    let new = toml::Table::try_from(now).ok()?;
    let (mut old_keys, mut new_keys) = (vec![], vec![]);
    flatten("", &old, &mut old_keys);
    flatten("", &new, &mut new_keys);
    let shown = |v: Option<&toml::Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
    let mut keys: Vec<&String> = old_keys.iter().chain(&new_keys).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let find = |list: &[(String, toml::Value)], k: &str| list.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let changed: Vec<String> = keys
        .into_iter()
        .filter_map(|k| {
            let (a, b) = (find(&old_keys, k), find(&new_keys, k));
            (a != b).then(|| format!("{k} {} -> {}", shown(a.as_ref()), shown(b.as_ref())))
        })
        .collect();
    (!changed.is_empty()).then(|| changed.join(", "))
}

/// The leaves of `t` as (dotted key, value).
fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(sub) => flatten(&key, sub, out),
            v => out.push((key, v.clone())),
        }
    }
}

impl Trainer {
    /// The run in `run_dir` (its lock held by the caller), to be trained to `epochs` epochs in
    /// all: refused ([`RunError::CannotExtend`]) when `epochs` is not more than the run's
    /// `train.epochs`, for a `cosine` schedule (its shape depends on the length), for a run that
    /// diverged, and for one whose `summary.json` does not read (the extension is recorded
    /// there). The checkpoints are checked before anything is written; then the extension is
    /// recorded and `config.toml` rewritten, so that a later plain resume continues it.
    pub fn extend_locked(run_dir: &Path, lock: Lock, epochs: usize) -> Result<Trainer, RunError> {
        let dir = RunDir::new(run_dir);
        if !dir.config().is_file() {
            return Err(RunError::NotRunDir { dir: run_dir.to_path_buf() });
        }
        let cfg = RunConfig::from_file(&dir.config(), &[])?;
        let cannot = |why: String| RunError::CannotExtend { dir: run_dir.to_path_buf(), why };
        let old = cfg.train.epochs;
        if epochs <= old {
            return Err(cannot(format!("it is configured for {old} epochs (train.epochs); --epochs must be more")));
        }
        if cfg.optim.schedule == Schedule::Cosine {
            return Err(cannot(format!(
                "its cosine schedule (optim.schedule) decays to 0 over its {old} epochs, and a run of {epochs} \
                 epochs has another learning rate from the first step on; start a new run with train.epochs = {epochs}"
            )));
        }
        if let Some(s) = diverged(&dir) {
            let at = s.diverged_at_step.map_or(String::new(), |s| format!(" at step {s}"));
            return Err(cannot(format!("it diverged{at}; nothing can follow a non-finite state")));
        }
        if let Some(d) = ended_early(&dir).and_then(|s| s.decision) {
            return Err(cannot(format!(
                "it stopped once its regime was decided ({}; train.stop_when = \"regime\"), and would stop again at \
                 once; train a run with train.stop_when = \"never\" to see it to {epochs} epochs",
                d.label()
            )));
        }
        let mut summary = Summary::read(&dir)
            .map_err(|e| cannot(format!("its summary.json, where the extension is recorded, does not read ({e})")))?;
        let longer = RunConfig::from_file(&dir.config(), &[format!("train.epochs={epochs}")])?;
        summary.extensions.push(Extension { from_epochs: old, to_epochs: epochs, at_unix: store::unix_now() });
        let mut t = Trainer::open_with(&longer, RunDir::new(run_dir), lock, summary.extensions.clone(), None)?;
        // The record first: with it, the old checkpoints stay valid whichever config.toml a
        // kill between the two writes leaves.
        summary.status = RunState::Running;
        store::write_json(&dir.summary(), &summary)?;
        store::write_atomic(&dir.config(), longer.to_toml().as_bytes())?;
        dir.log_line(&format!(
            "extended from {old} to {epochs} epochs (train.epochs) at unix time {:.0}",
            store::unix_now()
        ))?;
        t.notes.push((false, format!("extending {} from {old} to {epochs} epochs", run_dir.display())));
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_names_each_changed_key_with_both_values() {
        let a = RunConfig::default();
        let mut b = a.clone();
        b.train.epochs = a.train.epochs + 1;
        b.optim.elr = 5e-3;
        let d = config_diff(&a.to_toml(), &b).unwrap();
        assert!(d.contains(&format!("train.epochs {} -> {}", a.train.epochs, b.train.epochs)), "{d}");
        assert!(d.contains("optim.elr"), "{d}");
        assert_eq!(d.matches("->").count(), 2, "{d}");
        assert_eq!(config_diff(&a.to_toml(), &a), None);
        assert_eq!(config_diff("not = [toml", &a), None);
    }

    #[test]
    fn an_extension_vouches_for_the_shorter_configs_hash() {
        let mut c = RunConfig::default();
        let short = c.hash();
        c.train.epochs += 6;
        assert!(!accepted_hashes(&c, &[]).contains(&short));
        let e = Extension { from_epochs: c.train.epochs - 6, to_epochs: c.train.epochs, at_unix: 0.0 };
        assert!(accepted_hashes(&c, &[e]).contains(&short));
    }
}
