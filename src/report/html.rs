//! The self-contained `report.html` of a study: figures embedded as base64 PNG, tables of the
//! analysis, the papers' numbers beside ours, the checks, timing. What goes in is given by the
//! study ([`Page`]); this module only lays it out.

use super::checks::{Check, Outcome};
use crate::analysis::table::{TableSpec, boundaries_text, period_scaling_text};
use crate::analysis::{RunAnalysis, SJump, SweepAnalysis, Theory};
use crate::numfmt::{num as f, num_sig};
use crate::stats::median;
use anyhow::Result;
use base64::Engine;
use std::path::PathBuf;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Our numbers for a full-space sweep: S-jumps and periods per run, theory against measurement,
/// the period's scaling with lr*wd.
pub fn periodic_tables(a: &SweepAnalysis) -> String {
    let runs: Vec<&RunAnalysis> = a.runs.iter().collect();
    let jump_median = |r: &RunAnalysis, x: fn(&SJump) -> f64| f(median(&r.s_jumps.iter().map(x).collect::<Vec<f64>>()));
    let per_run = TableSpec::default()
        .col("lr", |r: &RunAnalysis| f(r.lr))
        .col("wd", |r: &RunAnalysis| f(r.wd))
        .col("lr·wd", |r: &RunAnalysis| f(r.lr * r.wd))
        .col("S-jumps", |r: &RunAnalysis| r.s_jumps.len().to_string())
        .col("at epochs", |r: &RunAnalysis| {
            r.s_jumps.iter().map(|j| j.epoch.to_string()).collect::<Vec<_>>().join(", ")
        })
        .col("period (epochs)", |r: &RunAnalysis| {
            r.period
                .as_ref()
                .map(|p| format!("{} (range {}-{})", f(p.median), f(p.min), f(p.max)))
                .unwrap_or("-".into())
        })
        .col("period (steps)", |r: &RunAnalysis| r.period_steps.map(|p| format!("{p:.0}")).unwrap_or("-".into()))
        .col("period × lr·wd (steps)", |r: &RunAnalysis| {
            r.period_steps.map(|p| format!("{:.2}", p * r.lr * r.wd)).unwrap_or("-".into())
        })
        .col("median ELR at jump", move |r: &RunAnalysis| jump_median(r, |j| j.elr_at_jump))
        .col("median g_eff before jump", move |r: &RunAnalysis| jump_median(r, |j| j.eff_grad_norm_before))
        .col("median ELR after jump", |r: &RunAnalysis| {
            f(median(&r.s_jumps.iter().map(|j| crate::metrics::elr(r.lr, j.rho_after, 2)).collect::<Vec<f64>>()))
        })
        .col("final test acc", |r: &RunAnalysis| format!("{:.3}", r.final_test_acc));
    let with_theory: Vec<(&RunAnalysis, &Theory)> =
        a.runs.iter().filter_map(|r| r.theory.as_ref().map(|t| (r, t))).collect();
    let theory = TableSpec::default()
        .col("lr", |(r, _): &(&RunAnalysis, &Theory)| f(r.lr))
        .col("ELR* = √(2 lr wd)/g_eff", |(_, t): &(&RunAnalysis, &Theory)| f(t.elr_star_predicted))
        .col("mean ELR (2nd half)", |(_, t): &(&RunAnalysis, &Theory)| f(t.elr_measured))
        .col("ρ*² = g_eff √(lr/2wd)", |(_, t): &(&RunAnalysis, &Theory)| f(t.rho2_star_predicted))
        .col("mean ρ² (2nd half)", |(_, t): &(&RunAnalysis, &Theory)| f(t.rho2_measured))
        .col("ELR growth per step, (1−lr wd)^−2", |(_, t): &(&RunAnalysis, &Theory)| {
            format!("{:.6}", t.elr_growth_predicted)
        })
        .col("measured (convergence phases)", |(_, t): &(&RunAnalysis, &Theory)| {
            format!("{:.6}", t.elr_growth_measured)
        })
        .col("norm recursion: median relative error per epoch", |(_, t): &(&RunAnalysis, &Theory)| {
            num_sig(t.norm_recursion_median_rel_err, 2)
        });
    let mut h = format!("<h2>Ours, per run</h2>{}", per_run.to_html(&runs));
    h += &format!("<h2>Theory against measurement</h2>{}", theory.to_html(&with_theory.iter().collect::<Vec<_>>()));
    if let Some(p) = &a.period_scaling {
        h += &format!("<p>{}</p>", esc(&period_scaling_text(p)));
    }
    h
}

/// Our numbers for an ELR sweep: the regime and tail statistics per ELR, the boundaries.
pub fn regime_tables(a: &SweepAnalysis) -> String {
    let mut runs: Vec<&RunAnalysis> = a.runs.iter().collect();
    runs.sort_by(|x, y| x.elr.total_cmp(&y.elr));
    let t = TableSpec::default()
        .class(|r: &RunAnalysis| r.regime.regime.name().replace(' ', "-"))
        .col("ELR", |r: &RunAnalysis| f(r.elr))
        .col("regime", |r: &RunAnalysis| r.regime_label())
        .col("tail train loss", |r: &RunAnalysis| f(r.regime.tail_train_loss))
        .col("tail train acc", |r: &RunAnalysis| format!("{:.3}", r.regime.tail_train_acc))
        .col("tail test error", |r: &RunAnalysis| format!("{:.3}", 1.0 - r.regime.tail_test_acc))
        .col("tail g_eff", |r: &RunAnalysis| f(r.regime.tail_eff_grad_norm))
        .col("ln-loss slope / epoch (t)", |r: &RunAnalysis| {
            format!("{} ({:.1})", num_sig(r.regime.loss_slope, 3), r.regime.loss_slope_t)
        });
    let mut h = format!("<h2>Ours, per ELR</h2>{}", t.to_html(&runs));
    if let Some(b) = &a.boundaries {
        h += &format!("<p>{}</p>", esc(&boundaries_text(b)));
    }
    h
}

/// One experiment of a report of reports (`reproduce beyond`).
pub struct Linked<'a> {
    /// Its name, also its folder.
    pub name: &'a str,
    /// The checks, listed as held, failed or not testable.
    pub checks: &'a [Check],
    pub seconds: f64,
}

/// Links to the reports of several experiments, each with how many of its checks held.
pub fn experiment_links(exps: &[Linked]) -> String {
    let mut h = String::from("<h2>The experiments</h2><ul>");
    for e in exps {
        h += &format!(
            "<li><a href=\"{0}/report.html\">{0}</a>: {1} of {2} checks hold, {3:.1} minutes</li>",
            e.name,
            e.checks.iter().filter(|c| c.held()).count(),
            e.checks.len(),
            e.seconds / 60.0
        );
    }
    h + "</ul>"
}

/// A study's report page.
pub struct Page<'a> {
    pub title: &'a str,
    /// The command that made it (`silab reproduce regimes --scale cpu`).
    pub command: String,
    /// Say that the built-in data and a narrow net give other absolute numbers than the papers'.
    pub scale_note: bool,
    /// The checks, listed as held, failed or not testable.
    pub checks: &'a [Check],
    /// `(caption, PNG file)` of each figure, embedded in the page.
    pub figures: &'a [(String, PathBuf)],
    /// HTML sections after the figures (our tables, the papers' numbers).
    pub sections: Vec<String>,
    /// The sweep file(s); empty for none (a report of reports).
    pub sweep_toml: &'a str,
    pub seconds: f64,
    pub rows: usize,
    pub points: usize,
}

impl Page<'_> {
    /// The self-contained HTML.
    pub fn render(&self) -> Result<String> {
        let mut h = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title><style>\
             body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}} table{{border-collapse:collapse;margin:1em 0}}\
             td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}} td{{white-space:nowrap}} td.text{{white-space:normal;text-align:left;min-width:16em}} th{{background:#f4f4f4}}\
             .pass{{color:#080}} .fail{{color:#b00}} .untestable{{color:#777}} tr.convergence td{{background:#eef8ee}} tr.chaotic td{{background:#fff4e6}}\
             tr.divergence td{{background:#fbeaea}} figure{{margin:1em 0;overflow-x:auto}} img{{max-width:none;border:1px solid #eee}} pre{{background:#f8f8f8;padding:1em}}</style></head><body>\
             <h1>{}</h1><p>silab {} &middot; <code>{}</code> &middot; {} runs, {} table rows &middot; \
             took <b>{:.1} minutes</b>.</p>",
            esc(&self.command),
            esc(self.title),
            env!("CARGO_PKG_VERSION"),
            esc(&self.command),
            self.points,
            self.rows,
            self.seconds / 60.0
        );
        h += "<h2>What matched</h2><ul>";
        for c in self.checks {
            let (class, mark) = match c.outcome {
                Outcome::Held => ("pass", "&#10003;"),
                Outcome::Failed => ("fail", "&#10007;"),
                Outcome::NotTestable { .. } => ("untestable", "?"),
            };
            h += &format!("<li class=\"{class}\">{mark} {}</li>", esc(&c.text()));
        }
        h += "</ul>";
        if self.scale_note {
            h += "<p>Scale note: this run uses small data sets (built-in synthetic images or the bundled MNIST: the \
                  sweep below says which) and narrow networks on a CPU, so absolute \
                  numbers (ELRs, periods in epochs, errors) differ from the papers' ConvNet-32 on CIFAR-10; the phenomena \
                  and their ordering are what is compared.</p>";
        }
        // figures at their native size (text as drawn, ~13 px and up), scrolling sideways in a
        // narrow window rather than shrinking
        for (caption, png) in self.figures {
            let bytes = std::fs::read(png).map_err(|e| crate::store::StoreError::io(png, e))?;
            let (w, hgt) = png_size(&bytes).ok_or_else(|| crate::store::StoreError::format(png, "not a PNG"))?;
            h += &format!(
                "<figure><img alt=\"{}\" width=\"{w}\" height=\"{hgt}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>",
                esc(caption),
                base64::engine::general_purpose::STANDARD.encode(bytes),
                esc(caption)
            );
        }
        for s in &self.sections {
            h += s;
        }
        if !self.sweep_toml.is_empty() {
            h += &format!("<h2>The sweep</h2><pre>{}</pre>", esc(self.sweep_toml));
        }
        h += DEFINITIONS;
        h += "<script>window.addEventListener('load',function(){var i=[].slice.call(document.images);\
              document.body.setAttribute('data-images-loaded',i.filter(function(x){return x.complete&&x.naturalWidth>0}).length+'/'+i.length);});</script>\
              </body></html>";
        Ok(h)
    }
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(b: &[u8]) -> Option<(u32, u32)> {
    if b.len() < 24 || &b[..8] != b"\x89PNG\r\n\x1a\n" || &b[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    Some((be(16), be(20)))
}

/// How the analysis defines S-jumps and regimes (its defaults), for the reader of a report.
const DEFINITIONS: &str = "<p>Definitions: an S-jump is an epoch where the train loss rises to at least 5&times; its minimum over the previous \
    10 epochs while &rho; rises by at least 1% within 2 epochs; a new S-jump also needs 5 epochs and a re-converged loss (back to at most 2&times; the previous jump's pre-spike minimum) since the last one. Regimes are read from the last 30% \
    of the epochs: divergence when the train accuracy stays below chance + 0.15&times;(1 &minus; chance) while the train loss stays above 0.3&times; its initial value (or is not finite); convergence when \
    the train accuracy reaches 99% or ln(train loss) keeps falling (least-squares slope with t &lt; &minus;3); chaotic \
    equilibrium otherwise.</p>";
