//! `silab check-si`.

use anyhow::{Context, Result, bail};
use silab::config::{Arch, RunConfig};
use silab::model::{scripted, si};
use std::path::{Path, PathBuf};

/// Check a network's scale-invariant groups numerically: scale each declared group (and their
/// union) by 0.1 and 10 and report how much the logits and the loss change (f64, norm eps 0,
/// batch statistics); also scale every other trained tensor on its own and report any that is
/// scale-invariant. Exits 1 when the declaration is wrong. A scripted module
/// (`--set model.arch="torchscript" --set model.file="net.pt"`) is checked with the groups of
/// `model.si_groups` or of its manifest; `--propose` finds its groups from the module alone.
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
    /// Scripted modules: find the SI groups numerically, ignoring any declaration: scale each
    /// trained tensor alone, then each module's other tensors jointly (weight + bias), and
    /// report what was found and everything tried.
    #[arg(long)]
    propose: bool,
    /// With --propose: write the groups found as the manifest beside the module
    /// (`net.silab.toml` for `net.pt`), replacing one that is there.
    #[arg(long, requires = "propose")]
    write: bool,
}

pub fn run(a: Args) -> Result<()> {
    let cfg = RunConfig::model_from(a.config.as_deref(), a.preset.as_deref(), &a.sets)?;
    if a.propose {
        return propose(&cfg, a.json, a.write);
    }
    let r = if cfg.model.arch == Arch::Torchscript {
        let net = si::exact_scripted(&cfg.model, None, None)?;
        si::check_net(&net, cfg.seed)
    } else {
        si::check(&cfg.model, cfg.classes(), cfg.seed)
    };
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

fn propose(cfg: &RunConfig, json: bool, write: bool) -> Result<()> {
    if cfg.model.arch != Arch::Torchscript {
        bail!("--propose finds the groups of a scripted module: give model.arch = \"torchscript\" and model.file");
    }
    let net = si::exact_scripted(&cfg.model, None, None)?;
    let p = si::propose(&net, cfg.seed);
    if json {
        println!("{}", serde_json::to_string(&p)?);
    } else {
        print!("{}", si::proposal_text(&p));
    }
    if write {
        let path = scripted::manifest_path(Path::new(&cfg.model.file));
        std::fs::write(&path, si::proposal_manifest(&p, &net))
            .with_context(|| format!("writing {}", path.display()))?;
        if !json {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
