//! The `silab` command line: a thin layer over the library (see `src/cli/`).

mod cli;

fn main() {
    silab::run::keep_freed_memory();
    if let Err(e) = cli::try_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
