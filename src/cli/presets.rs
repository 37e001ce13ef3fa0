//! `silab presets`.

use anyhow::Result;
use silab::config;

/// List the presets, or with --keys every config key with its default and meaning.
#[derive(clap::Args)]
pub struct Args {
    /// Every config key: `key = default`, then what it means (from the code's doc comments).
    #[arg(long)]
    keys: bool,
    /// With --keys: the reference as a Markdown table (key, type, default, meaning).
    #[arg(long, requires = "keys")]
    markdown: bool,
}

pub fn run(a: Args) -> Result<()> {
    if a.markdown {
        print!("{}", config::reference_markdown());
    } else if a.keys {
        let keys = config::reference();
        let lines: Vec<String> = keys.iter().map(|k| format!("{} = {}", k.key, k.default)).collect();
        let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        for (line, k) in lines.iter().zip(&keys) {
            println!("{line:<width$}  {}", k.meaning);
        }
    } else {
        for p in config::presets() {
            println!("{:<16} {}", p.name, p.about);
        }
    }
    Ok(())
}
