//! `silab presets`.

use anyhow::Result;
use silab::config;

/// List the presets, or with --keys every config key and its default.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    keys: bool,
}

pub fn run(a: Args) -> Result<()> {
    if a.keys {
        for (k, v) in config::all_keys() {
            println!("{k} = {v}");
        }
    } else {
        for p in config::presets() {
            println!("{:<16} {}", p.name, p.about);
        }
    }
    Ok(())
}
