//! Serve small generated data sets in the official layouts on the loopback address, for trying
//! `silab data get` without the network (the README's transcript comes from it):
//!
//! ```bash
//! cargo run --release --example serve_data -- /tmp/srv        # writes /tmp/srv/sources.toml
//! silab data get mnist --sources /tmp/srv/sources.toml --dir /tmp/mnist
//! ```
//!
//! Arguments: the folder for `sources.toml` (default `.`), and a port (default: any free one).
//! Serves until killed.

mod server;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let folder = std::path::PathBuf::from(args.first().map(String::as_str).unwrap_or("."));
    let port: u16 = match args.get(1).map(|p| p.parse()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("error: port {:?}: {e}", args[1]);
            std::process::exit(2);
        }
    };
    let files = server::fixtures();
    let srv = server::start(files.clone(), port);
    let path = folder.join("sources.toml");
    if let Err(e) =
        std::fs::create_dir_all(&folder).and_then(|_| std::fs::write(&path, server::sources_toml(&srv.url, &files)))
    {
        eprintln!("error: {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("serving {} files on {}; sources file: {}", files.len(), srv.url, path.display());
    loop {
        std::thread::park();
    }
}
