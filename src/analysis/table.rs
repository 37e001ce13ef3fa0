//! The tables of an analysis: one table model ([`TableSpec`]: each column's header and cell
//! defined together) rendered to text (what `silab analyze` prints, [`to_text`]) and to HTML
//! ([`to_html`], for reports).

use super::{Boundaries, EQUILIBRIUM_TOL, Equilibrium, PeriodScaling, RunAnalysis, SJump, SweepAnalysis};
use crate::config::OptimMode;
use crate::numfmt::{num, num_sig};
use std::path::Path;

/// How a row becomes one string (a cell, a CSS class).
pub type CellFn<'a, R> = Box<dyn Fn(&R) -> String + 'a>;

/// One column: its header and how a row's cell is written.
pub struct ColumnSpec<'a, R> {
    pub header: String,
    pub cell: CellFn<'a, R>,
}

/// A table of rows of type `R`: its columns, in order, and (HTML only) a CSS class per row.
pub struct TableSpec<'a, R> {
    pub columns: Vec<ColumnSpec<'a, R>>,
    pub row_class: Option<CellFn<'a, R>>,
}

impl<'a, R> Default for TableSpec<'a, R> {
    fn default() -> Self {
        TableSpec { columns: vec![], row_class: None }
    }
}

impl<'a, R> TableSpec<'a, R> {
    /// Add a column.
    pub fn col(mut self, header: impl Into<String>, cell: impl Fn(&R) -> String + 'a) -> Self {
        self.columns.push(ColumnSpec { header: header.into(), cell: Box::new(cell) });
        self
    }
    /// Give each HTML row the CSS class `class(row)` (a report colours regimes this way).
    pub fn class(mut self, class: impl Fn(&R) -> String + 'a) -> Self {
        self.row_class = Some(Box::new(class));
        self
    }
    /// The header and the cells of `rows`.
    pub fn cells(&self, rows: &[&R]) -> (Vec<String>, Vec<Vec<String>>) {
        let header = self.columns.iter().map(|c| c.header.clone()).collect();
        let cells = rows.iter().map(|r| self.columns.iter().map(|c| (c.cell)(r)).collect()).collect();
        (header, cells)
    }
    /// Left-aligned columns, two spaces apart, sized to their widest cell.
    pub fn to_text(&self, rows: &[&R]) -> String {
        let (header, cells) = self.cells(rows);
        aligned(&header, &cells)
    }
    /// An HTML `<table>` (header row, then a row per element; text escaped).
    pub fn to_html(&self, rows: &[&R]) -> String {
        let (header, cells) = self.cells(rows);
        let tr = |tag: &str, cs: &[String], class: Option<String>| {
            let inner: String = cs.iter().map(|c| format!("<{tag}>{}</{tag}>", esc(c))).collect();
            match class {
                Some(c) => format!("<tr class=\"{}\">{inner}</tr>\n", esc(&c)),
                None => format!("<tr>{inner}</tr>\n"),
            }
        };
        let mut o = String::from("<table>\n");
        o += &tr("th", &header, None);
        for (row, r) in rows.iter().zip(&cells) {
            o += &tr("td", r, self.row_class.as_ref().map(|f| f(row)));
        }
        o + "</table>\n"
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let l: Vec<String> = cells.iter().zip(&w).map(|(c, w)| format!("{c:<w$}")).collect();
        l.join("  ").trim_end().to_string() + "\n"
    };
    let mut o = line(header);
    for r in rows {
        o += &line(r);
    }
    o
}

/// A JSON value of a swept key as a table cell (numbers for people, strings bare).
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The run's short name: its directory's last component.
fn short(dir: &str) -> String {
    Path::new(dir).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A fixed column of a mode's table: header, the config key whose sweep makes it repeat a swept
/// column (then it is left out; empty: never), and its cell.
type Fixed = (&'static str, &'static str, fn(&RunAnalysis) -> String);

fn dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

const OPTIM: Fixed = ("optim", "optim.name", |r| r.optim.name().into());
const LR: Fixed = ("lr", "optim.lr", |r| num(r.lr));
const WD: Fixed = ("wd", "optim.wd", |r| num(r.wd));
const ELR_MEASURED: Fixed = ("ELR", "", |r| dash(r.elr_measured.map(num)));
const REGIME: Fixed = ("regime", "", |r| r.regime_label());
const RATIO: Fixed = ("angle/eta_r", "", |r| dash(r.equilibrium.first().map(|q| format!("{:.3}", q.ratio))));
const FINAL_ACC: Fixed = ("final test acc", "", |r| format!("{:.4}", r.final_test_acc));

/// Each mode's title and fixed columns.
fn mode_columns(mode: OptimMode) -> (&'static str, Vec<Fixed>) {
    match mode {
        OptimMode::Full => (
            "full space (ELR measured: median over the last 30% of the epochs; angle/eta_r: rotational equilibrium)",
            vec![
                OPTIM,
                LR,
                WD,
                ELR_MEASURED,
                REGIME,
                ("S-jumps", "", |r| r.s_jumps.len().to_string()),
                ("period (epochs)", "", |r| dash(r.period_epochs.map(|p| format!("{p:.1}")))),
                RATIO,
                FINAL_ACC,
            ],
        ),
        OptimMode::Sphere => (
            "on the sphere (ELR configured; tail: median over the last 30% of the epochs)",
            vec![
                OPTIM,
                ("ELR", "optim.elr", |r| num(r.elr)),
                REGIME,
                ("tail train loss", "", |r| num(r.regime.tail_train_loss)),
                ("tail test acc", "", |r| format!("{:.4}", r.regime.tail_test_acc)),
                FINAL_ACC,
            ],
        ),
        OptimMode::Rotational => (
            "rotational (each SI unit turns by a fixed angle per step)",
            vec![OPTIM, LR, WD, ELR_MEASURED, REGIME, RATIO, FINAL_ACC],
        ),
    }
}

/// The swept keys of an analysis, in order of first appearance.
fn swept_keys(a: &SweepAnalysis) -> Vec<String> {
    let mut keys: Vec<String> = vec![];
    for r in &a.runs {
        for (k, _) in &r.values {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// The table of the runs of one mode: the run, the swept keys, the seed, then the mode's fixed
/// columns but those whose key is swept (they would repeat it).
pub fn runs_table(mode: OptimMode, keys: &[String]) -> (&'static str, TableSpec<'_, RunAnalysis>) {
    let (title, fixed) = mode_columns(mode);
    let mut t = TableSpec::default().col("run", |r: &RunAnalysis| short(&r.dir));
    for k in keys {
        t = t.col(k.clone(), move |r: &RunAnalysis| {
            r.values.iter().find(|(x, _)| x == k).map(|(_, v)| cell(v)).unwrap_or("-".into())
        });
    }
    t = t.col("seed", |r: &RunAnalysis| r.seed.to_string());
    for (header, _, f) in fixed.into_iter().filter(|(_, key, _)| !keys.iter().any(|k| k == key)) {
        t = t.col(header, f);
    }
    (title, t)
}

/// The modes present, in table order, with their runs.
fn by_mode(a: &SweepAnalysis) -> Vec<(OptimMode, Vec<&RunAnalysis>)> {
    [OptimMode::Full, OptimMode::Sphere, OptimMode::Rotational]
        .into_iter()
        .map(|m| (m, a.runs.iter().filter(|r| r.mode == m).collect::<Vec<_>>()))
        .filter(|(_, runs)| !runs.is_empty())
        .collect()
}

fn jumps_table() -> TableSpec<'static, SJump> {
    TableSpec::default()
        .col("epoch", |j: &SJump| num(j.epoch))
        .col("loss before", |j: &SJump| num(j.loss_before))
        .col("loss after", |j: &SJump| num(j.loss_after))
        .col("rho before", |j: &SJump| num(j.rho_before))
        .col("rho after", |j: &SJump| num(j.rho_after))
        .col("ELR at jump", |j: &SJump| num(j.elr_at_jump))
}

fn equilibrium_table() -> TableSpec<'static, Equilibrium> {
    let ep = |e: Option<f64>| dash(e.map(num));
    TableSpec::default()
        .col("tensor", |q: &Equilibrium| q.name.clone())
        .col("eta_r", |q: &Equilibrium| num(q.eta_r))
        .col("first within", move |q: &Equilibrium| ep(q.first_within))
        .col("settled", move |q: &Equilibrium| ep(q.settled))
        .col("ratio", |q: &Equilibrium| format!("{:.3}", q.ratio))
        .col("at S-jumps (epoch: ratio)", |q: &Equilibrium| {
            let jumps: Vec<String> = q.at_jumps.iter().map(|j| format!("{}: {:.2}", num(j.epoch), j.ratio)).collect();
            jumps.join(", ")
        })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Plain-text tables of an analysis (what `silab analyze` prints): one table per mode with the
/// quantities that matter for it (full space: lr, wd and the ELR measured; sphere: the ELR
/// configured), the swept keys and the seed of each run, then the S-jumps, the theory, the
/// rotational equilibrium and the regime boundaries.
pub fn to_text(a: &SweepAnalysis) -> String {
    let keys = swept_keys(a);
    let mut o = String::new();
    for (mode, runs) in by_mode(a) {
        if !o.is_empty() {
            o += "\n";
        }
        let (title, t) = runs_table(mode, &keys);
        o += title;
        o += "\n";
        o += &t.to_text(&runs);
    }
    for r in a.runs.iter().filter(|r| !r.s_jumps.is_empty()) {
        o += &format!("\nS-jumps of {} (lr {}, wd {}):\n", r.dir, num(r.lr), num(r.wd));
        o += &indent(&jumps_table().to_text(&r.s_jumps.iter().collect::<Vec<_>>()));
    }
    for r in a.runs.iter() {
        o += &theory_text(r);
    }
    for r in a.runs.iter().filter(|r| !r.equilibrium.is_empty()) {
        o += &format!(
            "\nrotational equilibrium of {} (mean angle per step vs eta_r; band {:.0}%{}):\n",
            r.dir,
            EQUILIBRIUM_TOL * 100.0,
            r.equilibrium_epochs_predicted
                .map(|e| format!(", 1/(lr wd) = {} epochs", num_sig(e, 3)))
                .unwrap_or_default(),
        );
        o += &indent(&equilibrium_table().to_text(&r.equilibrium.iter().collect::<Vec<_>>()));
    }
    o + &sweep_text(a)
}

/// The theory line of a run (empty without a theory).
fn theory_text(r: &RunAnalysis) -> String {
    let Some(t) = &r.theory else { return String::new() };
    format!(
        "\ntheory vs measured for {} (lr {}, wd {}): ELR* {} vs {} | rho*^2 {} vs {} | ELR growth per step {:.6} vs {:.6} | norm recursion median rel. error {}\n",
        r.dir,
        num(r.lr),
        num(r.wd),
        num(t.elr_star_predicted),
        num(t.elr_measured),
        num(t.rho2_star_predicted),
        num(t.rho2_measured),
        t.elr_growth_predicted,
        t.elr_growth_measured,
        num_sig(t.norm_recursion_median_rel_err, 2)
    )
}

/// The regime boundaries and the period scaling of a sweep (each when present).
fn sweep_text(a: &SweepAnalysis) -> String {
    let mut o = String::new();
    if let Some(b) = &a.boundaries {
        o += &format!("\n{}\n", boundaries_text(b));
    }
    if let Some(p) = &a.period_scaling {
        o += &format!("\n{}\n", period_scaling_text(p));
    }
    o
}

/// The regime boundaries in one sentence (`silab analyze` and the reports).
pub fn boundaries_text(b: &Boundaries) -> String {
    let show = |x: &Option<[f64; 2]>| {
        x.map(|[lo, hi]| format!("between ELR {} and {}", num(lo), num(hi))).unwrap_or("not found".into())
    };
    format!(
        "regime boundaries: convergence -> chaotic {}; chaotic -> divergence {}; regimes in increasing-ELR order: {}",
        show(&b.convergence_chaotic),
        show(&b.chaotic_divergence),
        match (b.regimes_seen, b.ordered) {
            (0 | 1, _) => format!("not testable ({} regime seen)", b.regimes_seen),
            (_, true) => "yes".into(),
            (_, false) => "no".into(),
        }
    )
}

/// The period against lr*wd in one sentence (`silab analyze` and the reports).
pub fn period_scaling_text(p: &PeriodScaling) -> String {
    let pts: Vec<String> = p.points.iter().map(|(k, v)| format!("{} -> {}", num(*k), num(*v))).collect();
    format!(
        "period against lr*wd (lr*wd -> steps): {}; period ratio {:.2} measured vs {:.2} predicted by 1/(lr*wd); shrinking: {}",
        pts.join(", "),
        p.measured_ratio,
        p.predicted_ratio,
        if p.shrinking { "yes" } else { "no" }
    )
}

/// The runs' tables of an analysis as HTML (one per mode, under its title as a caption): the
/// same model as [`to_text`]'s.
pub fn to_html(a: &SweepAnalysis) -> String {
    let keys = swept_keys(a);
    let mut o = String::new();
    for (mode, runs) in by_mode(a) {
        let (title, t) = runs_table(mode, &keys);
        o += &format!("<p>{}</p>\n", esc(title));
        o += &t.to_html(&runs);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regime_order_is_not_testable_with_one_regime() {
        use crate::analysis::{Regime, boundaries};
        let one = boundaries(&[(1e-3, Regime::Divergence), (1e-2, Regime::Divergence)]);
        assert_eq!(one.regimes_seen, 1);
        assert!(boundaries_text(&one).ends_with("order: not testable (1 regime seen)"), "{}", boundaries_text(&one));
        let two = boundaries(&[(1e-3, Regime::Convergence), (1e-2, Regime::Chaotic)]);
        assert!(boundaries_text(&two).ends_with("order: yes"), "{}", boundaries_text(&two));
        let wrong = boundaries(&[(1e-3, Regime::Chaotic), (1e-2, Regime::Convergence)]);
        assert!(boundaries_text(&wrong).ends_with("order: no"), "{}", boundaries_text(&wrong));
    }

    #[test]
    fn one_model_renders_text_and_html() {
        struct R(f64, &'static str);
        let t = TableSpec::default().col("x", |r: &R| num(r.0)).col("name", |r: &R| r.1.to_string());
        let rows = [R(1.0, "a<b"), R(250.0, "c")];
        let refs: Vec<&R> = rows.iter().collect();
        assert_eq!(t.to_text(&refs), "x    name\n1    a<b\n250  c\n");
        let h = t.to_html(&refs);
        assert!(h.contains("<th>x</th><th>name</th>") && h.contains("<td>a&lt;b</td>"), "{h}");
        let h = t.class(|r: &R| if r.0 > 100.0 { "big".into() } else { "small".into() }).to_html(&refs);
        assert!(h.contains("<tr class=\"small\"><td>1</td>") && h.contains("<tr class=\"big\"><td>250</td>"), "{h}");
    }
}
