//! `silab data get` end to end against a server on the loopback address serving generated files
//! in the official layouts (test-only checksums): a full download that the loaders and
//! `silab train` read, a connection broken mid-file and resumed, a wrong checksum, no network.

#[path = "../examples/serve_data/server.rs"]
mod server;

use silab::config::{DataConfig, DataName, SplitName};
use silab::data::{self, download};
use silab::progress::Silent;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn silab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silab"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A server with the fixtures and a sources file for it in `dir`.
fn serve(dir: &Path) -> (server::Server, PathBuf) {
    let files = server::fixtures();
    let srv = server::start(files.clone(), 0);
    let path = dir.join("sources.toml");
    std::fs::write(&path, server::sources_toml(&srv.url, &files)).unwrap();
    (srv, path)
}

fn get(name: &str, dir: &Path, sources: &Path) -> Output {
    silab().args(["data", "get", name, "--dir"]).arg(dir).arg("--sources").arg(sources).output().unwrap()
}

fn cfg(name: DataName, dir: &Path) -> DataConfig {
    DataConfig { name, dir: dir.to_path_buf(), train_split: SplitName::Train, ..DataConfig::default() }
}

#[test]
fn every_data_set_downloads_unpacks_and_loads() {
    let t = tempfile::tempdir().unwrap();
    let (srv, sources) = serve(t.path());
    for (name, data_name, train, test) in [
        ("mnist", DataName::Mnist, 60, 20),
        ("fashion-mnist", DataName::FashionMnist, 60, 20),
        ("cifar10", DataName::Cifar10, 40, 10),
        ("cifar100", DataName::Cifar100, 40, 10),
    ] {
        let dir = t.path().join(name);
        let o = get(name, &dir, &sources);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("md5 ok"), "{}", text(&o));
        let d = data::load(&DataConfig { train_size: 0, test_size: 0, ..cfg(data_name, &dir) }).unwrap();
        assert_eq!((d.train.len(), d.test.len()), (train, test), "{name}");
        // the archive is gone once unpacked, and nothing is left half done
        let left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert!(left.iter().all(|f| !f.ends_with(".tar.gz") && !f.ends_with(".part")), "{left:?}");
        assert_eq!(download::state(&download::spec(name).unwrap(), &dir), download::State::Complete);
    }
    // a second get checks what is there and downloads nothing
    let before = srv.seen.lock().unwrap().len();
    for name in ["mnist", "cifar10"] {
        let o = get(name, &t.path().join(name), &sources);
        assert!(o.status.success() && text(&o).contains("already"), "{}", text(&o));
    }
    assert_eq!(srv.seen.lock().unwrap().len(), before);
}

#[test]
fn the_cache_folder_is_what_an_empty_data_dir_reads() {
    let t = tempfile::tempdir().unwrap();
    let (_srv, sources) = serve(t.path());
    let cache = t.path().join("cache");
    let train = |name: &str| {
        silab()
            .env("SILAB_DATA", &cache)
            .args(["train", "-q", "--out"])
            .arg(t.path().join(format!("run-{name}")))
            .args(["--set", &format!("data.name={name:?}"), "--set", "data.train_size=0", "--set", "data.test_size=20"])
            .args(["--set", "model.width=2", "--set", "train.epochs=1", "--set", "train.batch_size=20"])
            .args(["--set", "train.threads=1"])
            .output()
            .unwrap()
    };
    // nothing downloaded yet: the error says how to get it
    let o = train("fashion-mnist");
    assert!(!o.status.success());
    assert!(text(&o).contains("run `silab data get fashion-mnist`"), "{}", text(&o));
    assert!(text(&o).contains(&cache.join("fashion-mnist").display().to_string()), "{}", text(&o));
    for name in ["fashion-mnist", "mnist"] {
        let o =
            silab().env("SILAB_DATA", &cache).args(["data", "get", name, "--sources"]).arg(&sources).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(cache.join(name).join("train-images-idx3-ubyte.gz").is_file());
        let o = train(name);
        assert!(o.status.success(), "{name}: {}", text(&o));
    }
    // mnist's test split with an empty data.dir stays the bundled one (10 000 images)
    let mut c = cfg(DataName::Mnist, Path::new(""));
    c.train_split = SplitName::Test;
    c.holdout = 100;
    c.train_size = 0;
    c.test_size = 0;
    assert_eq!(data::load(&c).unwrap().train.len(), 9900);
    let o = silab().env("SILAB_DATA", &cache).args(["data", "list"]).output().unwrap();
    let out = text(&o);
    assert!(out.contains(&cache.display().to_string()), "{out}");
    let line = |n: &str| out.lines().find(|l| l.trim_start().starts_with(&format!("{n} "))).unwrap_or("").to_string();
    assert!(line("mnist").contains("complete") && line("cifar10").contains("not downloaded"), "{out}");
}

#[test]
fn a_broken_connection_resumes_with_a_range_request() {
    let t = tempfile::tempdir().unwrap();
    let (srv, sources) = serve(t.path());
    let table = download::read_sources(&sources).unwrap();
    let spec = download::spec_with("cifar10", Some(&table)).unwrap();
    let dir = t.path().join("c10");
    *srv.break_next.lock().unwrap() = Some(("/cifar10/cifar-10-binary.tar.gz".into(), 1000));
    let e = download::get(&spec, &dir, &mut Silent).unwrap_err().to_string();
    let url = &spec.sources[0].url;
    assert!(e.contains(url) && e.contains("broke after 1000 of") && e.contains("resume"), "{e}");
    let part = dir.join("cifar-10-binary.tar.gz.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 1000);
    let got = download::get(&spec, &dir, &mut Silent).unwrap();
    assert_eq!(got.extracted.len(), 7, "{got:?}"); // 5 + 1 batches and batches.meta.txt
    assert!(!part.exists());
    let seen = srv.seen.lock().unwrap().clone();
    let ranges: Vec<Option<u64>> = seen.iter().map(|s| s.range).collect();
    assert_eq!(ranges, [None, Some(1000)], "{seen:?}");
    assert_eq!(
        data::load(&DataConfig { train_size: 0, test_size: 0, ..cfg(DataName::Cifar10, &dir) }).unwrap().train.len(),
        40
    );
}

#[test]
fn a_wrong_checksum_deletes_the_file_and_names_both_sums() {
    let t = tempfile::tempdir().unwrap();
    let (_srv, sources) = serve(t.path());
    let text_in = std::fs::read_to_string(&sources).unwrap();
    let right = server::md5_hex(&server::fixtures()["/mnist/t10k-labels-idx1-ubyte.gz"]);
    let wrong = "0123456789abcdef0123456789abcdef";
    std::fs::write(&sources, text_in.replace(&right, wrong)).unwrap();
    let dir = t.path().join("m");
    let o = get("mnist", &dir, &sources);
    assert!(!o.status.success());
    let file = dir.join("t10k-labels-idx1-ubyte.gz");
    let err = text(&o);
    assert!(err.contains(&file.display().to_string()) && err.contains(&right) && err.contains(wrong), "{err}");
    assert!(err.contains("deleted"), "{err}");
    assert!(!file.exists() && !dir.join("t10k-labels-idx1-ubyte.gz.part").exists());
    // the files before it were downloaded and checked, and stay
    assert!(dir.join("train-images-idx3-ubyte.gz").is_file());
    // a file placed by hand with the wrong content is checked, deleted and named the same way
    std::fs::write(&file, b"not it").unwrap();
    std::fs::write(&sources, &text_in).unwrap();
    let o = get("mnist", &dir, &sources);
    assert!(!o.status.success() && text(&o).contains(&server::md5_hex(b"not it")), "{}", text(&o));
    assert!(!file.exists());
    let o = get("mnist", &dir, &sources);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn no_network_names_the_url_and_how_to_place_the_files_by_hand() {
    let t = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // the listener is dropped: nothing answers on that port
    let url = format!("http://127.0.0.1:{port}/cifar-10-binary.tar.gz");
    let sources = t.path().join("sources.toml");
    std::fs::write(
        &sources,
        format!("[[cifar10]]\nfile = \"cifar-10-binary.tar.gz\"\nurl = \"{url}\"\nmd5 = \"c32a1d4ab5d03f1284b67883e8d87530\"\n"),
    )
    .unwrap();
    let dir = t.path().join("c10");
    let o = get("cifar10", &dir, &sources);
    assert!(!o.status.success());
    let err = text(&o);
    assert!(err.contains(&format!("could not download {url}")), "{err}");
    assert!(err.contains("To place the files by hand") && err.contains(&dir.display().to_string()), "{err}");
    assert!(err.contains("c32a1d4ab5d03f1284b67883e8d87530") && err.contains("silab data get cifar10 --dir"), "{err}");
}

#[test]
fn a_bad_sources_file_is_named_with_its_key() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("s.toml");
    let check = |body: &str, want: &str| {
        std::fs::write(&p, body).unwrap();
        let e = download::read_sources(&p).unwrap_err().to_string();
        assert!(e.contains("s.toml") && e.contains(want), "{e}");
    };
    let ok_md5 = "md5 = \"00000000000000000000000000000000\"";
    check(&format!("[[imagenet]]\nfile = \"a\"\nurl = \"http://x/a\"\n{ok_md5}\n"), "unknown data set `imagenet`");
    check(&format!("[[mnist]]\nfile = \"a.gz\"\nurl = \"http://x/a\"\n{ok_md5}\n"), "mnist[0].file = \"a.gz\"");
    check(
        "[[cifar10]]\nfile = \"cifar-10-binary.tar.gz\"\nurl = \"ftp://x\"\nmd5 = \"00000000000000000000000000000000\"\n",
        "cifar10[0].url",
    );
    check("[[cifar100]]\nfile = \"cifar-100-binary.tar.gz\"\nurl = \"http://x\"\nmd5 = \"xyz\"\n", "cifar100[0].md5");
}

#[test]
fn a_server_that_ignores_the_range_sends_the_whole_file_again() {
    let t = tempfile::tempdir().unwrap();
    let (srv, sources) = serve(t.path());
    let spec = download::spec_with("mnist", Some(&download::read_sources(&sources).unwrap())).unwrap();
    let dir = t.path().join("m");
    *srv.break_next.lock().unwrap() = Some(("/mnist/train-images-idx3-ubyte.gz".into(), 300));
    assert!(download::get(&spec, &dir, &mut Silent).is_err());
    srv.ignore_range.store(true, std::sync::atomic::Ordering::SeqCst);
    // the 300 bytes kept are overwritten, not appended to: the checksum holds
    let got = download::get(&spec, &dir, &mut Silent).unwrap();
    let full = server::fixtures()["/mnist/train-images-idx3-ubyte.gz"].len() as u64;
    assert_eq!(got.downloaded[0], ("train-images-idx3-ubyte.gz".to_string(), full));
    let ranges: Vec<Option<u64>> = srv.seen.lock().unwrap().iter().map(|s| s.range).collect();
    assert_eq!(ranges[..2], [None, Some(300)]);
}
