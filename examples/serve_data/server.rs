//! A loopback HTTP/1.1 server for `silab data get`, serving small generated files in the official
//! layouts (idx `.gz` files, CIFAR binary `.tar.gz` archives) with test-only checksums. It
//! answers `Range: bytes=N-` with 206, and can break the connection in the middle of a file.
//! Used by `tests/download.rs` and by the `serve_data` example (the README's transcript).
#![allow(dead_code)] // the test and the example each use a part

use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One request the server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    /// The first byte asked for by a `Range: bytes=N-` header.
    pub range: Option<u64>,
}

/// A running server (it serves until the process ends).
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every request, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// `(path, n)`: the next answer for `path` stops after `n` body bytes and closes.
    pub break_next: Arc<Mutex<Option<(String, usize)>>>,
    /// Answer every request with the whole file (200), as servers without range support do.
    pub ignore_range: Arc<AtomicBool>,
}

/// Serve `files` (URL path -> bytes) on 127.0.0.1, port `port` (0: any free one).
pub fn start(files: BTreeMap<String, Vec<u8>>, port: u16) -> Server {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(vec![]));
    let break_next = Arc::new(Mutex::new(None));
    let ignore_range = Arc::new(AtomicBool::new(false));
    let (s, b, i) = (seen.clone(), break_next.clone(), ignore_range.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &files, &s, &b, i.load(Ordering::SeqCst));
        }
    });
    Server { url, seen, break_next, ignore_range }
}

fn answer(
    mut stream: TcpStream,
    files: &BTreeMap<String, Vec<u8>>,
    seen: &Mutex<Vec<Seen>>,
    break_next: &Mutex<Option<(String, usize)>>,
    ignore_range: bool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("range")
        {
            range = v.trim().strip_prefix("bytes=").and_then(|r| r.trim_end_matches('-').parse::<u64>().ok());
        }
    }
    seen.lock().unwrap().push(Seen { path: path.clone(), range });
    if ignore_range {
        range = None;
    }
    let Some(data) = files.get(&path) else {
        return write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let len = data.len() as u64;
    let start = range.unwrap_or(0);
    if start >= len && range.is_some() {
        let head = format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\n");
        return write!(stream, "{head}Content-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let status = if range.is_some() { "206 Partial Content" } else { "200 OK" };
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", len - start);
    if range.is_some() {
        head += &format!("Content-Range: bytes {start}-{}/{len}\r\n", len - 1);
    }
    stream.write_all(format!("{head}\r\n").as_bytes())?;
    let body = &data[start as usize..];
    let cut = {
        let mut b = break_next.lock().unwrap();
        match b.as_ref() {
            Some((p, n)) if *p == path => {
                let n = *n;
                *b = None;
                Some(n.min(body.len()))
            }
            _ => None,
        }
    };
    stream.write_all(&body[..cut.unwrap_or(body.len())])?;
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(payload);
    b
}

/// The four gzipped idx files of an MNIST-like set: `train` and `test` images of 28x28 whose
/// pixels depend on the image, the position and `salt`; labels `i % 10`.
fn idx_set(train: usize, test: usize, salt: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let px: Vec<u8> =
            (0..n).flat_map(|i| (0..28 * 28).map(move |p| ((i * 7 + p / 28 + p % 28 + salt) % 256) as u8)).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        out.push((format!("{prefix}-images-idx3-ubyte.gz"), gz(&idx(&[n as u32, 28, 28], &px))));
        out.push((format!("{prefix}-labels-idx1-ubyte.gz"), gz(&idx(&[n as u32], &labels))));
    }
    out
}

/// CIFAR binary records: `n` of them, `label_bytes` label bytes (the last one the class).
fn cifar_records(n: usize, label_bytes: usize, classes: usize, salt: usize) -> Vec<u8> {
    let mut out = vec![];
    for i in 0..n {
        out.extend((0..label_bytes).map(|_| ((i + salt) % classes) as u8));
        out.extend((0..3072).map(|p| ((i * 13 + p + salt) % 256) as u8));
    }
    out
}

/// A `.tar.gz` holding `prefix/` and the files under it, as the official archives do.
fn tar_gz(prefix: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(vec![]);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    b.append_data(&mut dir, format!("{prefix}/"), std::io::empty()).unwrap();
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, format!("{prefix}/{name}"), &data[..]).unwrap();
    }
    gz(&b.into_inner().unwrap())
}

/// Small files in the official layouts of the four data sets, by URL path
/// (`/mnist/train-images-idx3-ubyte.gz`, `/cifar10/cifar-10-binary.tar.gz`, ...).
pub fn fixtures() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (name, salt) in [("mnist", 0), ("fashion-mnist", 100)] {
        for (f, data) in idx_set(60, 20, salt) {
            files.insert(format!("/{name}/{f}"), data);
        }
    }
    let mut c10: Vec<(String, Vec<u8>)> =
        (1..=5).map(|i| (format!("data_batch_{i}.bin"), cifar_records(8, 1, 10, i))).collect();
    c10.push(("test_batch.bin".into(), cifar_records(10, 1, 10, 0)));
    c10.push(("batches.meta.txt".into(), b"airplane\nautomobile\n".to_vec()));
    files.insert("/cifar10/cifar-10-binary.tar.gz".into(), tar_gz("cifar-10-batches-bin", &c10));
    let c100 = vec![
        ("train.bin".to_string(), cifar_records(40, 2, 100, 1)),
        ("test.bin".to_string(), cifar_records(10, 2, 100, 0)),
    ];
    files.insert("/cifar100/cifar-100-binary.tar.gz".into(), tar_gz("cifar-100-binary", &c100));
    files
}

/// The MD5 of `bytes` in hexadecimal.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A `--sources` file pointing every file of `files` at the server at `url`, with its MD5.
pub fn sources_toml(url: &str, files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut s = String::from("# test-only sources: generated files on a loopback server\n");
    for (path, data) in files {
        let (name, file) = path.trim_start_matches('/').split_once('/').unwrap();
        s += &format!("\n[[{name}]]\nfile = \"{file}\"\nurl = \"{url}{path}\"\nmd5 = \"{}\"\n", md5_hex(data));
    }
    s
}
