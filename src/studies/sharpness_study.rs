//! The thesis' sharpness claims on an ELR sweep (`silab reproduce regimes|mse|regimes-ln --sharpness`):
//! the curvature of each run's final point against its ELR, with the regimes shaded (minima
//! flatter at larger ELR within regime 1; high sharpness between regimes 1 and 2), and the
//! sharpness of the minimum reached by fine-tuning each final point at a small ELR, against the
//! ELR it started from.

use super::{Check, Scale};
use crate::analysis::{Regime, SweepAnalysis};
use crate::config;
use crate::landscape::curvature;
use crate::progress::{Progress, Silent};
use crate::report::figures::{Curve, Figure, Panel, Style};
use crate::report::papers::regime_shade;
use crate::run::Summary;
use crate::stats::spearman;
use crate::store::{self, RunDir, StudyDir};
use crate::sweep::{self, Manifest, SweepDir, SweepSpec};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The measurement settings per scale: `(images, fine-tuning epochs)`.
fn settings(s: Scale) -> (usize, usize) {
    match s {
        Scale::Smoke => (32, 2),
        Scale::Cpu => (256, 50),
        Scale::Paper => (5000, 100),
    }
}

/// One point of the study.
#[derive(Serialize, Clone, Debug)]
pub struct SharpPoint {
    pub elr: f64,
    pub regime: Regime,
    pub eff_top_eig: f64,
    pub eff_trace: f64,
    pub eff_gn_top_eig: f64,
    pub final_train_loss: f64,
    /// After fine-tuning at `finetune_elr` from this run's final weights.
    pub ft_eff_top_eig: f64,
    pub ft_eff_trace: f64,
    pub ft_test_acc: f64,
    pub ft_train_loss: f64,
}

/// What the study found.
#[derive(Serialize, Clone, Debug)]
pub struct SharpnessStudy {
    pub images: usize,
    pub finetune_elr: f64,
    pub finetune_epochs: usize,
    pub points: Vec<SharpPoint>,
    /// Spearman rank correlation of ELR and eff_top_eig over the convergence-regime runs
    /// (negative: flatter minima at larger ELR).
    pub convergence_rank_corr: Option<f64>,
    /// The ELR of the sharpest final point, and its regime.
    pub sharpest_elr: f64,
    pub sharpest_regime: Regime,
    /// Over the convergence and chaotic runs (divergent runs sit at chance level, at no
    /// minimum): whether the last convergence point or the first chaotic one is sharper (eff top
    /// eigenvalue) than its neighbours on both sides, a high-sharpness zone between regimes 1
    /// and 2. `None` without a convergence and a chaotic run.
    pub boundary_peak: Option<bool>,
}

/// The `boundary_peak` test on points sorted by ELR.
pub fn boundary_peak(points: &[SharpPoint]) -> Option<bool> {
    let v: Vec<&SharpPoint> = points.iter().filter(|p| p.regime != Regime::Divergence).collect();
    let k = v.iter().position(|p| p.regime == Regime::Chaotic)?;
    if k == 0 {
        return None;
    }
    let peak = |i: usize| {
        let e = v[i].eff_top_eig;
        (i == 0 || e > v[i - 1].eff_top_eig) && (i + 1 == v.len() || e > v[i + 1].eff_top_eig)
    };
    Some(peak(k - 1) || peak(k))
}

fn last_row(rows: &[curvature::Row]) -> Result<&curvature::Row> {
    rows.iter().find(|r| r.text("group") == Some("si")).context("no `si` sharpness row")
}

/// The measurement's `--set`s at a scale: `images` images, the group `si`, every core.
fn measure_sets(s: Scale, images: usize) -> Vec<String> {
    // measurements run one at a time: give each every core
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let sets = vec![
        format!("sharpness.images={images}"),
        "sharpness.groups=[\"si\"]".to_string(),
        format!("train.threads={cores}"),
    ];
    if s == Scale::Smoke {
        // the pipeline only: few probes and Lanczos steps
        [sets, vec!["sharpness.probes=2".into(), "sharpness.lanczos_iters=4".into()]].concat()
    } else {
        sets
    }
}

/// The `si` row of a run's last checkpoint: Hessian and (`gn`) Gauss-Newton. The Riemannian top
/// eigenvalue of a fully SI net equals the Hessian's (grad ⟂ w), so it is not measured again.
fn measure(dir: &RunDir, sets: &[String], gn: bool) -> Result<curvature::Row> {
    let last = *dir.checkpoint_epochs().last().context("no checkpoint")?;
    let extra = ["sharpness.riemannian=false".to_string(), format!("sharpness.gauss_newton={gn}")];
    let sets = [sets, &extra[..]].concat();
    Ok(last_row(&curvature::posthoc(&dir.root, Some(&[last]), &sets, &mut Silent, &mut |_| {})?)?.clone())
}

/// The fine-tuning sweep: every final point of `sd` trained on at ELR `ft_elr` for `epochs`.
fn finetune_spec(sd: &SweepDir, m: &Manifest, spec: &SweepSpec, ft_elr: f64, epochs: usize) -> Result<SweepSpec> {
    let mut base = spec.base.clone();
    config::apply_set(&mut base, &format!("optim.elr={ft_elr:e}"))?;
    config::apply_set(&mut base, &format!("train.epochs={epochs}"))?;
    let starts: Vec<toml::Value> = m
        .points
        .iter()
        .map(|p| Ok(toml::Value::String(std::path::absolute(p.run_dir(sd).root)?.display().to_string())))
        .collect::<Result<_>>()?;
    Ok(SweepSpec {
        name: format!("{}-finetune", spec.name),
        base,
        axes: vec![("train.init_from".into(), starts)],
        seeds: vec![spec.seeds[0]],
        zip: vec![],
    })
}

/// Run the study on the finished sweep in `sd` (analysed as `a`): sharpness of every final point,
/// a fine-tuning sweep in `out/finetune`, sharpness of its final points, and the figure
/// `out/fig_sharpness_vs_elr.{png,svg}`. Measurements already made are reused (post-hoc rows are
/// replaced, fine-tuning runs resume).
#[allow(clippy::too_many_arguments)]
pub fn study(
    sd: &SweepDir,
    spec: &SweepSpec,
    a: &SweepAnalysis,
    s: Scale,
    out: &StudyDir,
    jobs: usize,
    exe: &Path,
    progress: &mut dyn Progress,
) -> Result<(SharpnessStudy, Vec<(String, PathBuf)>)> {
    let (images, ft_epochs) = settings(s);
    let m = Manifest::read(sd)?;
    let sets = measure_sets(s, images);
    // 1. the final point of every run
    let mut finals = vec![];
    for p in &m.points {
        finals.push(measure(&p.run_dir(sd), &sets, true).with_context(|| format!("sharpness of point {}", p.index))?);
    }
    sweep::table::write(sd)?;
    // 2. fine-tune from every final point at the smallest ELR of the grid
    let ft_elr = a.runs.iter().map(|r| r.elr).fold(f64::INFINITY, f64::min);
    let ft = out.finetune();
    let ftm = sweep::create(&ft, &finetune_spec(sd, &m, spec, ft_elr, ft_epochs)?)?;
    let r = sweep::local::run(&ft, jobs, exe, progress)?;
    if !r.failed.is_empty() {
        bail!("fine-tuning: {} points failed (logs in {})", r.failed.len(), ft.logs().display());
    }
    let mut points = vec![];
    for (i, fp) in ftm.points.iter().enumerate() {
        let f = measure(&fp.run_dir(&ft), &sets, false)
            .with_context(|| format!("sharpness of fine-tuned point {}", fp.index))?;
        let summary = Summary::read(&fp.run_dir(&ft)).context("fine-tuned summary")?;
        let run = a.runs.get(i).with_context(|| format!("fine-tuned point {i} has no analysed run"))?;
        points.push(SharpPoint {
            elr: run.elr,
            regime: run.regime.regime,
            eff_top_eig: finals[i].get("eff_top_eig"),
            eff_trace: finals[i].get("eff_trace"),
            eff_gn_top_eig: finals[i].get("eff_gn_top_eig"),
            final_train_loss: run.final_train_loss,
            ft_eff_top_eig: f.get("eff_top_eig"),
            ft_eff_trace: f.get("eff_trace"),
            ft_test_acc: summary.last.get("test_acc").copied().unwrap_or(f64::NAN),
            ft_train_loss: summary.last.get("train_loss").copied().unwrap_or(f64::NAN),
        });
    }
    sweep::table::write(&ft)?;
    let study = conclude(points, images, ft_elr, ft_epochs)?;
    let figs = vec![figure(&study, out)?];
    store::write_json(&out.sharpness(), &study)?;
    Ok((study, figs))
}

/// What the measured points show.
fn conclude(mut points: Vec<SharpPoint>, images: usize, ft_elr: f64, ft_epochs: usize) -> Result<SharpnessStudy> {
    points.sort_by(|x, y| x.elr.total_cmp(&y.elr));
    let conv: Vec<&SharpPoint> = points.iter().filter(|p| p.regime == Regime::Convergence).collect();
    let convergence_rank_corr = spearman(
        &conv.iter().map(|p| p.elr).collect::<Vec<_>>(),
        &conv.iter().map(|p| p.eff_top_eig).collect::<Vec<_>>(),
    );
    let sharpest = points
        .iter()
        .filter(|p| p.eff_top_eig.is_finite())
        .max_by(|x, y| x.eff_top_eig.total_cmp(&y.eff_top_eig))
        .context("no finite sharpness")?;
    Ok(SharpnessStudy {
        images,
        finetune_elr: ft_elr,
        finetune_epochs: ft_epochs,
        convergence_rank_corr,
        sharpest_elr: sharpest.elr,
        sharpest_regime: sharpest.regime,
        boundary_peak: boundary_peak(&points),
        points,
    })
}

/// `fig_sharpness_vs_elr`: the regimes shaded as in P2's Fig. 1 (bottom).
fn figure(st: &SharpnessStudy, out: &StudyDir) -> Result<(String, PathBuf)> {
    let points = &st.points;
    let (images, ft_elr, ft_epochs) = (st.images, st.finetune_elr, st.finetune_epochs);
    let shade = regime_shade(&points.iter().map(|p| (p.elr, p.regime)).collect::<Vec<_>>());
    let pts = |f: &dyn Fn(&SharpPoint) -> f64| points.iter().map(|p| (p.elr, f(p))).collect::<Vec<_>>();
    let panel = |title: &str, y: &str, log_y: bool, curves: Vec<Curve>| Panel {
        title: title.into(),
        x_label: "ELR (of the run / it started from)".into(),
        y_label: y.into(),
        log_x: true,
        log_y,
        curves,
        shade: shade.clone(),
    };
    let c = |label: &str, points: Vec<(f64, f64)>, color: usize| Curve {
        label: label.into(),
        points,
        style: Style::LinePoints,
        color,
    };
    let p1 = panel(
        "sharpness of the final point",
        "x rho^2 (effective)",
        true,
        vec![
            c("eff top eigenvalue", pts(&|p| p.eff_top_eig), 0),
            c("eff trace (per param) x 100", pts(&|p| p.eff_trace * 100.0), 4),
            c("eff Gauss-Newton top eig", pts(&|p| p.eff_gn_top_eig), 5),
        ],
    );
    let p2 = panel(
        &format!("after fine-tuning at ELR {ft_elr:.0e} for {ft_epochs} epochs"),
        "eff top eigenvalue",
        true,
        vec![c("fine-tuned", pts(&|p| p.ft_eff_top_eig), 0), c("before", pts(&|p| p.eff_top_eig), 7)],
    );
    let p3 =
        panel("test error after fine-tuning", "error", false, vec![c("fine-tuned", pts(&|p| 1.0 - p.ft_test_acc), 0)]);
    Figure { panels: vec![p1, p2, p3], cols: 3, panel_size: (560, 420) }.save(&out.figure("fig_sharpness_vs_elr"))?;
    Ok((
        format!(
            "Sharpness against ELR ({images} training images, BN train mode): the final point of each run, \
             regimes shaded; the minimum reached by fine-tuning each at ELR {ft_elr:.0e} against the ELR it started from"
        ),
        out.figure("fig_sharpness_vs_elr").with_extension("png"),
    ))
}

/// The thesis' two sharpness claims on a study (`label`: the arm, empty for a one-sweep
/// experiment). Not testable without two convergence runs / without a convergence and a
/// chaotic run.
pub fn checks(label: &str, st: &SharpnessStudy) -> Vec<Check> {
    let who = if label.is_empty() { String::new() } else { format!("{label}: ") };
    let r = st.convergence_rank_corr;
    let flatter = format!(
        "{who}within the convergence regime, minima are flatter at larger ELR (rank correlation of ELR and eff top eigenvalue {} < 0)",
        r.map(|r| format!("{r:.2}")).unwrap_or("n/a".into())
    );
    let peak = format!(
        "{who}a high-sharpness zone between regimes 1 and 2: the last convergence or first chaotic point is sharper than its neighbours (divergent runs, at no minimum, left out)"
    );
    vec![
        Check::unless(
            flatter,
            r.is_none().then_some("no rank correlation: under two convergence runs"),
            r.is_some_and(|r| r < 0.0),
        )
        .with("rank correlation", &r.into_iter().collect::<Vec<_>>()),
        Check::unless(
            peak,
            st.boundary_peak.is_none().then_some("no convergence and chaotic runs to compare"),
            st.boundary_peak == Some(true),
        ),
    ]
}
