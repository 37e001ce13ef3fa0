//! `silab check-si`.

use anyhow::{Result, bail};
use silab::config::RunConfig;
use silab::model::si;
use std::path::PathBuf;

/// Check a network's scale-invariant groups numerically: scale each declared group (and their
/// union) by 0.1 and 10 and report how much the logits and the loss change (f64, norm eps 0,
/// batch statistics); also scale every other trained tensor on its own and report any that is
/// scale-invariant. Exits 1 when the declaration is wrong.
#[derive(clap::Args)]
pub struct Args {
    /// Run config (TOML); its `[model]` is checked.
    #[arg(long, conflicts_with = "preset")]
    config: Option<PathBuf>,
    /// A named preset.
    #[arg(long)]
    preset: Option<String>,
    /// Override a key: `--set model.arch="vit"` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let cfg = RunConfig::model_from(a.config.as_deref(), a.preset.as_deref(), &a.sets)?;
    let r = si::check(&cfg.model, cfg.classes(), cfg.seed);
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print!("{}", si::to_text(&r));
    }
    if !r.ok() {
        bail!("the SI declaration of this network is wrong (see above)");
    }
    Ok(())
}
