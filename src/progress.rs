//! Progress of long library work, reported through one trait. The library never prints: a run,
//! a sweep, a curvature measurement or a landscape scan tells a [`Progress`] what it is doing,
//! and the caller decides how to show it (the CLI draws indicatif bars and prints lines;
//! [`Silent`] ignores everything).

/// One of several parts running at once (the points of a sweep).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Stable id of the part (the point index), for the renderer to keep one bar per part.
    pub id: usize,
    /// What to call it (`point 3 (optim.elr=0.001)`).
    pub label: String,
    pub done: usize,
    pub total: usize,
}

/// Receives progress events; every method has a no-op default.
pub trait Progress {
    /// A task starts: `total` units (`unit`: "steps", "points", "checkpoints"), `done` of them
    /// already done (a resumed run).
    fn start(&mut self, _unit: &'static str, _total: usize, _done: usize) {}
    /// The position within the task, with a short status (e.g. `loss 0.4132 elr 1.00e-3`).
    fn set(&mut self, _pos: usize, _status: &str) {}
    /// The parts running now (sweep points), with `failed` parts so far.
    fn parts(&mut self, _running: &[Part], _failed: usize) {}
    /// A line for the user: an epoch summary, a resume notice, a failed point.
    fn line(&mut self, _text: &str) {}
    /// Something the user must see even when they asked for quiet (a damaged checkpoint skipped,
    /// a run stopped as diverged).
    fn warn(&mut self, text: &str) {
        self.line(text)
    }
    /// The task is over (clear its bars).
    fn finish(&mut self) {}
}

/// Ignores every event.
pub struct Silent;
impl Progress for Silent {}
