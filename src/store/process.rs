//! This process and others: host name, liveness, time, and the advisory lock that makes one
//! process the only writer of a run directory.

use super::StoreError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok { String::from_utf8_lossy(&buf[..end]).into_owned() } else { "unknown".into() }
}

/// Whether a process with this id exists on this machine.
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) }
}

/// An exclusive advisory lock (`flock`) on a lock file, held as long as this value lives (and
/// released by the kernel when the process dies, however it dies). The file records the holder
/// (`pid N on HOST`) so that a second writer's error can name it.
#[derive(Debug)]
pub struct Lock {
    _file: std::fs::File,
    pub path: PathBuf,
}

impl Lock {
    /// Take the lock at `path` (created if missing) or fail at once, naming the holder.
    pub fn acquire(path: &Path) -> Result<Lock, StoreError> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        match f.try_lock() {
            Ok(()) => {
                f.set_len(0).map_err(|e| StoreError::io(path, e))?;
                writeln!(f, "pid {} on {}", std::process::id(), hostname()).map_err(|e| StoreError::io(path, e))?;
                Ok(Lock { _file: f, path: path.to_path_buf() })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(path).unwrap_or_default().trim().to_string();
                let holder = if holder.is_empty() { "another process".to_string() } else { holder };
                Err(StoreError::Locked { path: path.to_path_buf(), holder })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(path, e)),
        }
    }

    /// Who holds the lock at `path` now, if anyone (takes and releases it to find out).
    pub fn holder(path: &Path) -> Option<String> {
        if !path.is_file() {
            return None;
        }
        match Lock::acquire(path) {
            Err(StoreError::Locked { holder, .. }) => Some(holder),
            _ => None,
        }
    }
}

/// Test hook: when the environment variable `SILAB_FAILPOINT` equals `name`, the process kills
/// itself with SIGKILL right here, as a kill from outside would at that moment. The kill tests
/// use it to stop a run at exact moments (half-way through writing a checkpoint, a row, ...);
/// unset, it costs one environment lookup.
pub fn failpoint(name: &str) {
    if std::env::var_os("SILAB_FAILPOINT").is_some_and(|v| v == name) {
        // SAFETY: raising a signal in our own process.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}
