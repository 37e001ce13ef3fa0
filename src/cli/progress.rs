//! The terminal side of [`silab::progress::Progress`]: indicatif bars for the task and its
//! parts, lines printed above them. Without a terminal (batch jobs, CI logs, sweep workers)
//! indicatif draws nothing, so lines go to stderr directly, unless `-q`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use silab::progress::{Part, Progress};

/// One bar for the task (steps, points, checkpoints), one per running part, lines above.
pub struct Bars {
    mp: MultiProgress,
    main: ProgressBar,
    parts: Vec<(usize, ProgressBar)>,
    quiet: bool,
}

impl Bars {
    /// Bars on the terminal; `quiet` hides bars and lines alike.
    pub fn new(quiet: bool) -> Bars {
        let mp =
            if quiet { MultiProgress::with_draw_target(ProgressDrawTarget::hidden()) } else { MultiProgress::new() };
        let main = mp.add(ProgressBar::new(0));
        Bars { mp, main, parts: vec![], quiet }
    }

    /// No bars (a sweep worker writing to its log file), but every line.
    pub fn lines_only() -> Bars {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let main = mp.add(ProgressBar::hidden());
        Bars { mp, main, parts: vec![], quiet: false }
    }

    /// A handle that prints a command's results to stdout above the bars (e.g. sharpness rows
    /// while they are measured): `printer.suspend(|| println!(...))`.
    pub fn printer(&self) -> ProgressBar {
        self.main.clone()
    }
}

impl Progress for Bars {
    fn start(&mut self, unit: &'static str, total: usize, done: usize) {
        let style = ProgressStyle::with_template(&format!(
            "{{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}<{{eta_precise}}] {{msg}}"
        ))
        .expect("a valid template");
        self.main.set_style(style);
        self.main.set_length(total as u64);
        self.main.set_position(done as u64);
        self.main.reset_eta();
    }
    fn set(&mut self, pos: usize, status: &str) {
        self.main.set_position(pos as u64);
        self.main.set_message(status.to_string());
    }
    fn parts(&mut self, running: &[Part], _failed: usize) {
        self.parts.retain(|(id, pb)| {
            let keep = running.iter().any(|r| r.id == *id);
            if !keep {
                pb.finish_and_clear();
            }
            keep
        });
        for r in running {
            if !self.parts.iter().any(|(id, _)| *id == r.id) {
                let pb = self.mp.add(ProgressBar::new(r.total as u64));
                pb.set_style(ProgressStyle::with_template("  {bar:30} {pos}/{len} epochs  {msg}").expect("a template"));
                pb.set_message(r.label.clone());
                self.parts.push((r.id, pb));
            }
            if let Some((_, pb)) = self.parts.iter().find(|(id, _)| *id == r.id) {
                pb.set_position(r.done as u64);
            }
        }
    }
    fn line(&mut self, text: &str) {
        if !self.mp.is_hidden() {
            let _ = self.mp.println(text);
        } else if !self.quiet {
            eprintln!("{text}");
        }
    }
    fn warn(&mut self, text: &str) {
        if !self.mp.is_hidden() {
            let _ = self.mp.println(text);
        } else {
            eprintln!("{text}");
        }
    }
    fn finish(&mut self) {
        for (_, pb) in self.parts.drain(..) {
            pb.finish_and_clear();
        }
        self.main.finish_and_clear();
    }
}
