//! `silab data get` and `silab data list`.

use anyhow::Result;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use silab::data::download::{self, State};
use silab::progress::Progress;
use std::path::PathBuf;

/// Download the official data sets (mnist, fashion-mnist, cifar10, cifar100) into the cache
/// folder that `data.dir` defaults to, checking their published MD5 checksums.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: DataCmd,
}

#[derive(Subcommand)]
enum DataCmd {
    /// Download a data set, resuming a partial download, check its checksums and unpack it into
    /// the layout silab reads. Files already there are checked, not downloaded again.
    ///
    /// The folder: `--dir`, else the cache: `$SILAB_DATA/NAME`, else `$XDG_CACHE_HOME/silab/NAME`,
    /// else `~/.cache/silab/NAME` (where an empty `data.dir` reads from).
    Get {
        /// mnist, fashion-mnist, cifar10 or cifar100.
        name: String,
        /// Put the files in this folder instead of the cache (then train with `--set data.dir=DIR`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A TOML file of mirrors: per name, `[[NAME]]` tables `{file, url, md5}` that replace the
        /// built-in source of that file.
        #[arg(long)]
        sources: Option<PathBuf>,
    },
    /// The data sets silab downloads, the cache folder and what is in it.
    List,
}

pub fn run(a: Args) -> Result<()> {
    match a.action {
        DataCmd::Get { name, dir, sources } => get(&name, dir, sources),
        DataCmd::List => list(),
    }
}

fn get(name: &str, dir: Option<PathBuf>, sources: Option<PathBuf>) -> Result<()> {
    let table = sources.as_deref().map(download::read_sources).transpose()?;
    let spec = download::spec_with(name, table.as_ref())?;
    let in_cache = dir.is_none();
    let dir = match dir {
        Some(d) => d,
        None => download::default_dir(name)?,
    };
    let got = download::get(&spec, &dir, &mut ByteBar::new())?;
    let set = if in_cache { String::new() } else { format!(" --set data.dir={}", got.dir.display()) };
    println!("{name} is in {}: train with --set data.name={name}{set}", got.dir.display());
    Ok(())
}

fn list() -> Result<()> {
    let root = download::cache_root()?;
    println!("cache folder: {} (SILAB_DATA, else $XDG_CACHE_HOME/silab, else ~/.cache/silab)", root.display());
    for name in download::NAMES {
        let spec = download::spec(name)?;
        let dir = root.join(name);
        let state = match download::state(&spec, &dir) {
            State::Complete => "complete",
            State::Partial => "partial: `silab data get` goes on",
            State::Missing => "not downloaded",
        };
        println!("  {name:<14} {state:<36} {}", dir.display());
    }
    Ok(())
}

/// A byte progress bar on stderr (drawn only on a terminal); lines go to stdout above it.
struct ByteBar {
    bar: ProgressBar,
}

impl ByteBar {
    fn new() -> ByteBar {
        ByteBar { bar: ProgressBar::hidden() }
    }
}

impl Progress for ByteBar {
    fn start(&mut self, _unit: &'static str, total: usize, done: usize) {
        let style = ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} [{elapsed_precise}<{eta_precise}] {msg}",
        )
        .expect("a valid template");
        self.bar = ProgressBar::new(total as u64).with_style(style);
        self.bar.set_position(done as u64);
        self.bar.reset_eta();
    }
    fn set(&mut self, pos: usize, status: &str) {
        self.bar.set_position(pos as u64);
        if self.bar.message() != status {
            self.bar.set_message(status.to_string());
        }
    }
    fn line(&mut self, text: &str) {
        self.bar.suspend(|| println!("{text}"));
    }
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
