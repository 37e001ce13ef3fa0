//! The figure of a regime map (`fig_map.png` / `.svg`): the ELR axis with the regime bands,
//! each run marked at the epoch it was decided (or ran to), and its final train loss.

use super::{MapRun, MapSummary};
use crate::analysis::{Regime, regime_per_elr};
use crate::numfmt::num_sig;
use crate::report::figures::{Curve, Figure, Panel, Style};
use crate::report::papers::regime_shade;
use anyhow::Result;
use std::path::Path;

/// Palette index of each regime's runs (the bands use the same colours).
fn color(r: Regime) -> usize {
    match r {
        Regime::Convergence => 2,
        Regime::Chaotic => 1,
        Regime::Divergence => 3,
        _ => 7,
    }
}

/// Draw the map of `runs` to `stem`.png and .svg; `title` heads it.
pub fn map_figure(runs: &[MapRun], s: &MapSummary, epochs: usize, title: &str, stem: &Path) -> Result<()> {
    let shade = regime_shade(&regime_per_elr(&runs.iter().map(|r| (r.elr, r.regime)).collect::<Vec<_>>()));
    let mut decided = Panel {
        title: format!(
            "{title}: {} runs, {} epochs ({}% of their full length)",
            runs.len(),
            s.epochs_spent,
            (100.0 * s.epochs_spent as f64 / s.epochs_full_length.max(1) as f64).round()
        ),
        x_label: "ELR".into(),
        y_label: "epochs trained (decided at)".into(),
        log_x: true,
        log_y: false,
        curves: vec![],
        shade: shade.clone(),
    };
    let mut loss = Panel {
        title: "train loss at the last epoch trained".into(),
        x_label: "ELR".into(),
        y_label: "train loss".into(),
        log_x: true,
        log_y: true,
        curves: vec![],
        shade,
    };
    for r in [Regime::Convergence, Regime::Chaotic, Regime::Divergence] {
        let of: Vec<&MapRun> = runs.iter().filter(|x| x.regime == r).collect();
        if of.is_empty() {
            continue;
        }
        let label = format!("{} ({} runs)", r.name(), of.len());
        let pts = of.iter().map(|x| (x.elr, x.epochs as f64)).collect();
        decided.curves.push(Curve { label: label.clone(), points: pts, style: Style::Points, color: color(r) });
        let pts = of.iter().filter(|x| x.train_loss > 0.0 && x.train_loss.is_finite()).map(|x| (x.elr, x.train_loss));
        loss.curves.push(Curve { label, points: pts.collect(), style: Style::Points, color: color(r) });
    }
    // the full length, and each boundary's estimate as a vertical line
    let (lo, hi) = (s.spec.lo, s.spec.hi);
    decided.curves.push(Curve {
        label: format!("full length ({epochs} epochs)"),
        points: vec![(lo, epochs as f64), (hi, epochs as f64)],
        style: Style::Reference,
        color: 7,
    });
    for (b, name, color) in [(&s.convergence_chaotic, "1->2", 0), (&s.chaotic_divergence, "2->3", 4)] {
        if let Some(e) = b.estimate() {
            decided.curves.push(Curve {
                label: format!("{name} ~{}", num_sig(e, 2)),
                points: vec![(e, 0.0), (e, epochs as f64)],
                style: Style::Reference,
                color,
            });
        }
    }
    let f = Figure { panels: vec![decided, loss], cols: 2, panel_size: (620, 440) };
    f.save(stem)
}
