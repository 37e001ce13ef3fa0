//! Downloading the official data sets (`silab data get`): the table of sources with their
//! published MD5 checksums, the cache folder, downloads that resume, checksums, and unpacking into
//! the layout the loaders read.
//!
//! A file is downloaded to `FILE.part`; a later attempt asks the server for the rest
//! (`Range: bytes=N-`) and starts over when the server sends the whole file instead. The complete
//! file's MD5 must be the published one, otherwise the file is deleted and the error names it.
//! MNIST and Fashion-MNIST stay gzipped (the idx loader reads `.gz`); a CIFAR archive is
//! extracted into the folder and then deleted.

use crate::progress::Progress;
use md5::{Digest, Md5};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The data sets `silab data get` knows, in the order they are listed.
pub const NAMES: [&str; 4] = ["mnist", "fashion-mnist", "cifar10", "cifar100"];

/// One file to download: where it is saved, where it comes from, its published MD5.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The file name in the data folder.
    pub file: String,
    /// Where to download it from (`http://` or `https://`).
    pub url: String,
    /// Its MD5 checksum, 32 hexadecimal digits.
    pub md5: String,
}

/// How a data set's downloaded files become the files its loader reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unpack {
    /// Kept as downloaded (the idx loader reads `.gz` files).
    Keep,
    /// A `.tar.gz` archive: the plain files under `prefix/` are extracted into the data folder,
    /// then the archive is deleted.
    TarGz {
        /// The archive's top folder (`cifar-10-batches-bin`).
        prefix: &'static str,
    },
}

/// A data set that can be downloaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Its `data.name`.
    pub name: &'static str,
    /// What to download.
    pub sources: Vec<Source>,
    /// What happens to the downloaded files.
    pub unpack: Unpack,
    /// The files the loader reads once the data set is in place.
    pub files: Vec<String>,
}

/// Errors of `data get`: each names the file or URL, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("unknown data set `{0}`: silab downloads mnist, fashion-mnist, cifar10, cifar100")]
    UnknownName(String),
    #[error("{path}: {message}")]
    Sources { path: PathBuf, message: String },
    #[error("could not download {url}: {reason}\n{manual}")]
    Network { url: String, reason: String, manual: String },
    #[error(
        "{path}: md5 {got}, but {url} publishes {expected}: the file was deleted; run the command again to download it afresh"
    )]
    Checksum { path: PathBuf, url: String, expected: String, got: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Archive { path: PathBuf, message: String },
    #[error(
        "no cache folder for downloaded data: neither SILAB_DATA, XDG_CACHE_HOME nor HOME is set (set SILAB_DATA, or give a folder)"
    )]
    NoCache,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io { path: path.to_path_buf(), source }
}

fn idx_sources(base: &str, md5s: [&str; 4]) -> Vec<Source> {
    let files = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    files
        .iter()
        .zip(md5s)
        .map(|(f, m)| Source { file: f.to_string(), url: format!("{base}{f}"), md5: m.into() })
        .collect()
}

fn archive(file: &str, md5: &str) -> Vec<Source> {
    vec![Source { file: file.into(), url: format!("https://www.cs.toronto.edu/~kriz/{file}"), md5: md5.into() }]
}

/// The built-in table: the official sources and their published checksums (MNIST from the mirror
/// torchvision uses, as yann.lecun.com often refuses downloads; CIFAR's binary versions from the
/// University of Toronto, checksums as its page publishes them).
pub fn spec(name: &str) -> Result<Spec, DownloadError> {
    let idx = |name: &'static str, sources: Vec<Source>| Spec {
        name,
        files: sources.iter().map(|s| s.file.clone()).collect(),
        sources,
        unpack: Unpack::Keep,
    };
    Ok(match name {
        "mnist" => idx(
            "mnist",
            idx_sources(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                [
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ],
            ),
        ),
        "fashion-mnist" => idx(
            "fashion-mnist",
            idx_sources(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                [
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ],
            ),
        ),
        "cifar10" => Spec {
            name: "cifar10",
            sources: archive("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),
            unpack: Unpack::TarGz { prefix: "cifar-10-batches-bin" },
            files: (1..=5).map(|i| format!("data_batch_{i}.bin")).chain(["test_batch.bin".into()]).collect(),
        },
        "cifar100" => Spec {
            name: "cifar100",
            sources: archive("cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"),
            unpack: Unpack::TarGz { prefix: "cifar-100-binary" },
            files: vec!["train.bin".into(), "test.bin".into()],
        },
        _ => return Err(DownloadError::UnknownName(name.into())),
    })
}

/// A sources file: per data set, an array of `{file, url, md5}` tables that replace the built-in
/// source of the same file (a mirror, a local server).
pub type SourcesFile = BTreeMap<String, Vec<Source>>;

/// Read and check a sources file: known names, known file names, well-formed URLs and checksums.
pub fn read_sources(path: &Path) -> Result<SourcesFile, DownloadError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bad = |message: String| DownloadError::Sources { path: path.to_path_buf(), message };
    let table: SourcesFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    for (name, sources) in &table {
        let known = spec(name).map_err(|e| bad(e.to_string()))?;
        for (i, s) in sources.iter().enumerate() {
            let key = format!("{name}[{i}]");
            if !known.sources.iter().any(|k| k.file == s.file) {
                let files: Vec<&str> = known.sources.iter().map(|k| k.file.as_str()).collect();
                return Err(bad(format!("{key}.file = {:?} is not a file of {name}: {}", s.file, files.join(", "))));
            }
            if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
                return Err(bad(format!("{key}.url = {:?} must start with http:// or https://", s.url)));
            }
            if s.md5.len() != 32 || !s.md5.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("{key}.md5 = {:?} is not 32 hexadecimal digits", s.md5)));
            }
        }
    }
    Ok(table)
}

/// The spec of `name` with the sources of `overrides` in place of the built-in ones.
pub fn spec_with(name: &str, overrides: Option<&SourcesFile>) -> Result<Spec, DownloadError> {
    let mut s = spec(name)?;
    for o in overrides.and_then(|t| t.get(name)).into_iter().flatten() {
        if let Some(k) = s.sources.iter_mut().find(|k| k.file == o.file) {
            *k = Source { md5: o.md5.to_ascii_lowercase(), ..o.clone() };
        }
    }
    Ok(s)
}

/// The cache folder that holds one sub-folder per data set, from the environment as `var` reads
/// it: `SILAB_DATA`, else `$XDG_CACHE_HOME/silab` (an absolute path, as the XDG specification
/// requires), else `$HOME/.cache/silab`.
pub fn cache_root_from(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, DownloadError> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = set("SILAB_DATA") {
        return Ok(d);
    }
    if let Some(d) = set("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return Ok(d.join("silab"));
    }
    set("HOME").map(|h| h.join(".cache").join("silab")).ok_or(DownloadError::NoCache)
}

/// The cache folder, from this process's environment.
pub fn cache_root() -> Result<PathBuf, DownloadError> {
    cache_root_from(|k| std::env::var_os(k))
}

/// The folder `data.dir` means when it is empty: the cache's sub-folder for `name`.
pub fn default_dir(name: &str) -> Result<PathBuf, DownloadError> {
    Ok(cache_root()?.join(name))
}

/// What is in a data folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Every file the loader reads is there and nothing is left to unpack.
    Complete,
    /// Some files are there, or a download or an archive waits: `data get` goes on from there.
    Partial,
    /// Nothing of it.
    Missing,
}

/// The state of `spec`'s data in `dir`.
pub fn state(spec: &Spec, dir: &Path) -> State {
    let have = spec.files.iter().filter(|f| dir.join(f).is_file()).count();
    let waiting = spec.sources.iter().any(|s| {
        let unpacked = spec.files.contains(&s.file);
        (!unpacked && dir.join(&s.file).exists()) || part_path(dir, &s.file).exists()
    });
    match (have, waiting) {
        (h, false) if h == spec.files.len() => State::Complete,
        (0, false) => State::Missing,
        _ => State::Partial,
    }
}

fn part_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!("{file}.part"))
}

/// What [`get`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Got {
    /// Where the data set is now.
    pub dir: PathBuf,
    /// Files downloaded now, with their sizes in bytes.
    pub downloaded: Vec<(String, u64)>,
    /// Files extracted from an archive.
    pub extracted: Vec<String>,
}

/// How to place the files by hand, for the error that says a download failed.
fn manual(spec: &Spec, dir: &Path) -> String {
    let mut s = format!("To place the files by hand, download into {}:\n", dir.display());
    for src in &spec.sources {
        s += &format!("  {}  from {}  (md5 {})\n", src.file, src.url, src.md5);
    }
    let then = if spec.unpack == Unpack::Keep { "checks them" } else { "checks and unpacks them" };
    s + &format!("then run `silab data get {} --dir {}` again: it {then}.", spec.name, dir.display())
}

/// Download `spec` into `dir` (created if needed), resuming partial files, checking every
/// checksum, and unpacking. Files already there are checked, not downloaded again.
pub fn get(spec: &Spec, dir: &Path, progress: &mut dyn Progress) -> Result<Got, DownloadError> {
    let mut got = Got { dir: dir.to_path_buf(), downloaded: vec![], extracted: vec![] };
    if spec.unpack != Unpack::Keep && state(spec, dir) == State::Complete {
        progress.line(&format!("{}: already unpacked in {}", spec.name, dir.display()));
        return Ok(got);
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let agent = agent();
    for src in &spec.sources {
        let path = dir.join(&src.file);
        if path.is_file() {
            verify(src, &path, &path)?;
            progress.line(&format!("{}: already there, md5 ok", path.display()));
            continue;
        }
        let part = part_path(dir, &src.file);
        let bytes = fetch(&agent, src, &part, progress).map_err(|e| match e {
            Fetch::Network(reason) => {
                DownloadError::Network { url: src.url.clone(), reason, manual: manual(spec, dir) }
            }
            Fetch::Other(e) => e,
        })?;
        verify(src, &part, &path)?;
        std::fs::rename(&part, &path).map_err(io(&path))?;
        progress.line(&format!("{}: {bytes} bytes, md5 ok", path.display()));
        got.downloaded.push((src.file.clone(), bytes));
    }
    if let Unpack::TarGz { prefix } = spec.unpack {
        for src in &spec.sources {
            let path = dir.join(&src.file);
            got.extracted.extend(extract(&path, prefix, dir)?);
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        progress.line(&format!("{}: unpacked {} files", dir.display(), got.extracted.len()));
        if let Some(f) = spec.files.iter().find(|f| !dir.join(f).is_file()) {
            let path = dir.join(&spec.sources[0].file);
            return Err(DownloadError::Archive { path, message: format!("held no {prefix}/{f}") });
        }
    }
    Ok(got)
}

/// The MD5 of a file, in lowercase hexadecimal.
pub fn md5_file(path: &Path) -> Result<String, DownloadError> {
    let mut f = BufReader::new(File::open(path).map_err(io(path))?);
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Check `path`'s MD5 against the source's; on a mismatch delete it and name it as `shown`.
fn verify(src: &Source, path: &Path, shown: &Path) -> Result<(), DownloadError> {
    let got = md5_file(path)?;
    if got == src.md5.to_ascii_lowercase() {
        return Ok(());
    }
    std::fs::remove_file(path).map_err(io(path))?;
    Err(DownloadError::Checksum { path: shown.to_path_buf(), url: src.url.clone(), expected: src.md5.clone(), got })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("silab/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Why a fetch failed: the network (the error adds how to place the files by hand) or else.
enum Fetch {
    Network(String),
    Other(DownloadError),
}

/// Download `src` into `part`, going on from what `part` holds; returns the file's size.
fn fetch(agent: &ureq::Agent, src: &Source, part: &Path, progress: &mut dyn Progress) -> Result<u64, Fetch> {
    let mut have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut resp = request(agent, &src.url, have)?;
    if resp.status().as_u16() == 416 {
        // the part is already as long as the file (or longer): start over and let the checksum judge
        have = 0;
        resp = request(agent, &src.url, 0)?;
    }
    let status = resp.status().as_u16();
    let start = match status {
        206 if range_start(&resp) == Some(have) => have,
        200 => 0,
        _ => return Err(Fetch::Network(format!("the server answered HTTP {status} {}", reason(&resp)))),
    };
    let length: Option<u64> =
        resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(start > 0)
        .truncate(start == 0)
        .open(part)
        .map_err(|e| Fetch::Other(io(part)(e)))?;
    let total = length.map(|l| start + l).unwrap_or(0);
    progress.start("bytes", total as usize, start as usize);
    let mut pos = start;
    let mut body = resp.body_mut().as_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                progress.finish();
                return Err(Fetch::Network(format!(
                    "the connection broke after {pos} of {total} bytes ({e}); {} keeps them: run the command again to resume",
                    part.display()
                )));
            }
        };
        out.write_all(&buf[..n]).map_err(|e| Fetch::Other(io(part)(e)))?;
        pos += n as u64;
        progress.set(pos as usize, &src.file);
    }
    progress.finish();
    out.flush().map_err(|e| Fetch::Other(io(part)(e)))?;
    Ok(pos)
}

fn request(agent: &ureq::Agent, url: &str, from: u64) -> Result<ureq::http::Response<ureq::Body>, Fetch> {
    let mut req = agent.get(url);
    if from > 0 {
        req = req.header("Range", format!("bytes={from}-"));
    }
    req.call().map_err(|e| Fetch::Network(e.to_string()))
}

fn reason(resp: &ureq::http::Response<ureq::Body>) -> &'static str {
    resp.status().canonical_reason().unwrap_or("")
}

/// The first byte of a 206 answer (`Content-Range: bytes START-END/TOTAL`).
fn range_start(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    let v = resp.headers().get("content-range")?.to_str().ok()?;
    v.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// Extract the plain files directly under `prefix/` in the `.tar.gz` at `archive` into `dir`
/// (each through a `.part` file, so that a broken extraction leaves no half file under its
/// name); returns their names. Entries elsewhere, links and deeper paths are skipped.
fn extract(archive: &Path, prefix: &str, dir: &Path) -> Result<Vec<String>, DownloadError> {
    let bad = |e: std::io::Error| DownloadError::Archive { path: archive.to_path_buf(), message: e.to_string() };
    let f = File::open(archive).map_err(io(archive))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(f)));
    let mut names = vec![];
    for entry in ar.entries().map_err(bad)? {
        let mut e = entry.map_err(bad)?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let p = e.path().map_err(bad)?.into_owned();
        let Ok(rest) = p.strip_prefix(prefix) else { continue };
        let mut parts = rest.components();
        let (Some(Component::Normal(name)), None) = (parts.next(), parts.next()) else { continue };
        let name = name.to_string_lossy().into_owned();
        let (out, tmp) = (dir.join(&name), part_path(dir, &name));
        let mut w = File::create(&tmp).map_err(io(&tmp))?;
        std::io::copy(&mut e, &mut w).map_err(bad)?;
        std::fs::rename(&tmp, &out).map_err(io(&out))?;
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn cache_root_prefers_silab_data_then_xdg_then_home() {
        let all = [("SILAB_DATA", "/d"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(cache_root_from(env(&all)).unwrap(), PathBuf::from("/d"));
        assert_eq!(cache_root_from(env(&all[1..])).unwrap(), PathBuf::from("/x/silab"));
        assert_eq!(cache_root_from(env(&all[2..])).unwrap(), PathBuf::from("/h/.cache/silab"));
        // empty values count as unset; a relative XDG_CACHE_HOME is ignored, as the spec says
        let odd = [("SILAB_DATA", ""), ("XDG_CACHE_HOME", "rel"), ("HOME", "/h")];
        assert_eq!(cache_root_from(env(&odd)).unwrap(), PathBuf::from("/h/.cache/silab"));
        let e = cache_root_from(env(&[])).unwrap_err().to_string();
        assert!(e.contains("SILAB_DATA") && e.contains("HOME"), "{e}");
    }

    #[test]
    fn every_name_has_a_spec_with_checksums() {
        for n in NAMES {
            let s = spec(n).unwrap();
            assert_eq!(s.name, n);
            assert!(s.sources.iter().all(|s| s.md5.len() == 32 && s.url.ends_with(&s.file)), "{n}");
        }
        assert!(spec("imagenet").unwrap_err().to_string().contains("fashion-mnist"));
    }
}
