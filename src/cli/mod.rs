//! The command line, in the shape of ripgrep's `crates/core`: [`Cli`] is parsed by clap, and
//! [`try_main`] hands each command to one short function in its own file, which maps the
//! arguments to one library call and prints what it returns.

mod analyze;
mod bench;
mod check_si;
mod data;
mod landscape;
mod map;
mod plot;
mod presets;
mod progress;
mod reference;
mod reproduce;
mod sharpness;
mod sweep;
mod train;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "silab", version, about = "Training dynamics of scale-invariant neural networks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// (A CLI enum parsed once: its size does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    Train(train::Args),
    #[command(args_conflicts_with_subcommands = true)]
    Sweep(sweep::Args),
    Map(map::Args),
    Analyze(analyze::Args),
    Reproduce(reproduce::Args),
    Sharpness(sharpness::Args),
    Landscape(landscape::Args),
    Plot(plot::Args),
    Presets(presets::Args),
    Bench(bench::Args),
    CheckSi(check_si::Args),
    Data(data::Args),
    /// Write the book's generated reference pages (scripts/gen-reference.sh).
    #[command(hide = true)]
    Reference(reference::Args),
}

/// Parse the command line and run the command.
pub fn try_main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Train(a) => train::run(a),
        Cmd::Sweep(a) => sweep::run(a),
        Cmd::Map(a) => map::run(a),
        Cmd::Analyze(a) => analyze::run(a),
        Cmd::Reproduce(a) => reproduce::run(a),
        Cmd::Sharpness(a) => sharpness::run(a),
        Cmd::Landscape(a) => landscape::run(a),
        Cmd::Plot(a) => plot::run(a),
        Cmd::Presets(a) => presets::run(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::CheckSi(a) => check_si::run(a),
        Cmd::Data(a) => data::run(a),
        Cmd::Reference(a) => reference::run(a, Cli::command()),
    }
}
