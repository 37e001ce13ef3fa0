//! `silab reproduce beyond`: `periodic-ln`, `regimes-ln` and `rotational`, then a report of
//! their reports with the cross-architecture summary across the three.

use super::pipeline::{self, Fig, Study, cross_rows};
use super::{Check, Experiment, ReproOptions, ReproSummary, Scale, about, study};
use crate::analysis::arms::ArmSummary;
use crate::progress::Progress;
use crate::report::{arms::cross_table, html};
use crate::store::{self, StudyDir};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Instant;

/// The experiments of `silab reproduce beyond`.
const BEYOND: [Experiment; 3] = [Experiment::PeriodicLn, Experiment::RegimesLn, Experiment::Rotational];

/// `silab reproduce beyond`: the three experiments into `out/<experiment>/`, then one report
/// with the cross-architecture summary, their checks and their figures.
pub fn reproduce_beyond(s: Scale, out: &Path, o: &ReproOptions, progress: &mut dyn Progress) -> Result<ReproSummary> {
    let t0 = Instant::now();
    let dir = StudyDir::new(out);
    store::create_dir(&dir.root)?;
    let mut done = vec![];
    for e in BEYOND {
        progress.line(&format!("{}:", e.name()));
        // --sharpness is the regimes' study (ELR sweeps)
        let oe = ReproOptions { sharpness: o.sharpness && e == Experiment::RegimesLn, ..o.clone() };
        let st = study(e).with_context(|| format!("{} has no study", e.name()))?;
        let d = pipeline::reproduce(e, st.as_ref(), s, &out.join(e.name()), &oe, progress)?;
        done.push((e, st, d));
    }
    let arms: Vec<Vec<ArmSummary>> =
        done.iter().map(|(_, _, d)| d.summary.arms.iter().flatten().map(|a| a.summary.clone()).collect()).collect();
    let refs: Vec<(&dyn Study, &[ArmSummary])> =
        done.iter().zip(&arms).map(|((_, st, _), a)| (st.as_ref(), a.as_slice())).collect();
    let checks: Vec<Check> = done
        .iter()
        .flat_map(|(e, _, d)| {
            d.summary.checks.iter().map(move |c| Check { claim: format!("{}: {}", e.name(), c.claim), ..c.clone() })
        })
        .collect();
    let summary = ReproSummary {
        experiment: Experiment::Beyond.name(),
        scale: s.name(),
        seconds: done.iter().map(|d| d.2.summary.seconds).sum::<f64>().max(t0.elapsed().as_secs_f64()),
        runs: vec![],
        boundaries: None,
        period_scaling: None,
        checks,
        sharpness: None,
        arms: None,
        cross_architecture: Some(cross_rows(&refs)),
    };
    store::write_json(&dir.summary(), &summary)?;
    let parts: Vec<(Experiment, &pipeline::Done)> = done.iter().map(|(e, _, d)| (*e, d)).collect();
    write_page(s, &dir, &parts, &summary)?;
    Ok(summary)
}

/// The report of reports: the checks, every experiment's figures, the cross-architecture
/// table and links to the experiments' own reports.
fn write_page(s: Scale, dir: &StudyDir, done: &[(Experiment, &pipeline::Done)], summary: &ReproSummary) -> Result<()> {
    let names: Vec<String> = done.iter().map(|(e, _)| e.name()).collect();
    let linked: Vec<html::Linked> = done
        .iter()
        .zip(&names)
        .map(|((_, d), name)| html::Linked { name, checks: &d.summary.checks, seconds: d.summary.seconds })
        .collect();
    let figures: Vec<Fig> = done.iter().flat_map(|(_, d)| d.figures.iter().cloned()).collect();
    let (title, about_html) = about(Experiment::Beyond);
    let cross = summary.cross_architecture.as_deref().unwrap_or_default();
    let page = html::Page {
        title: &title,
        command: format!("silab reproduce beyond --scale {}", s.name()),
        scale_note: s != Scale::Paper,
        checks: &summary.checks,
        figures: &figures,
        sections: vec![cross_table(cross), html::experiment_links(&linked), about_html],
        sweep_toml: "",
        seconds: summary.seconds,
        rows: done.iter().map(|(_, d)| d.rows).sum(),
        points: done.iter().map(|(_, d)| d.points).sum(),
    };
    store::write_atomic(&dir.report(), page.render()?.as_bytes())?;
    Ok(())
}
