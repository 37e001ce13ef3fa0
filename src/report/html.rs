//! The self-contained `report.html` of a reproduction: figures embedded as base64 PNG, tables,
//! the papers' numbers beside ours, the checks, timing.

use super::reproduce::{Experiment, Scale};
use crate::analysis::{RunAnalysis, SweepAnalysis};
use anyhow::Result;
use base64::Engine;
use std::path::PathBuf;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

use crate::analysis::{fmt as f, median};

fn periodic_tables(a: &SweepAnalysis) -> String {
    let mut h = String::from(
        "<h2>Ours, per run</h2><table><tr><th>lr</th><th>wd</th><th>lr&middot;wd</th><th>S-jumps</th><th>at epochs</th>\
         <th>period (epochs)</th><th>period (steps)</th><th>period &times; lr&middot;wd (steps)</th><th>median ELR at jump</th>\
         <th>median g_eff before jump</th><th>median ELR after jump</th><th>final test acc</th></tr>",
    );
    for r in &a.runs {
        let at: Vec<String> = r.s_jumps.iter().map(|j| format!("{}", j.epoch)).collect();
        let elr_after: Vec<f64> = r.s_jumps.iter().map(|j| r.lr / (j.rho_after * j.rho_after)).collect();
        h += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
            r.lr,
            r.wd,
            f(r.lr * r.wd),
            r.s_jumps.len(),
            at.join(", "),
            r.period.as_ref().map(|p| format!("{:.1} (range {}-{})", p.median, p.min, p.max)).unwrap_or("-".into()),
            r.period_steps.map(|p| format!("{p:.0}")).unwrap_or("-".into()),
            r.period_steps.map(|p| format!("{:.2}", p * r.lr * r.wd)).unwrap_or("-".into()),
            f(median(&r.s_jumps.iter().map(|j| j.elr_at_jump).collect::<Vec<f64>>())),
            f(median(&r.s_jumps.iter().map(|j| j.eff_grad_norm_before).collect::<Vec<f64>>())),
            f(median(&elr_after)),
            r.final_test_acc
        );
    }
    h += "</table><h2>Theory against measurement</h2><table><tr><th>lr</th><th>ELR* = &radic;(2 lr wd)/g_eff</th><th>mean ELR (2nd half)</th>\
          <th>&rho;*&sup2; = g_eff &radic;(lr/2wd)</th><th>mean &rho;&sup2; (2nd half)</th><th>ELR growth per step, (1&minus;lr wd)<sup>&minus;2</sup></th>\
          <th>measured (convergence phases)</th><th>norm recursion: median relative error per epoch</th></tr>";
    for r in &a.runs {
        if let Some(t) = &r.theory {
            h += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.6}</td><td>{:.6}</td><td>{:.2e}</td></tr>",
                r.lr,
                f(t.elr_star_predicted),
                f(t.elr_measured),
                f(t.rho2_star_predicted),
                f(t.rho2_measured),
                t.elr_growth_predicted,
                t.elr_growth_measured,
                t.norm_recursion_median_rel_err
            );
        }
    }
    h += "</table>";
    if let Some(p) = &a.period_scaling {
        h += &format!(
            "<p>Period against lr&middot;wd: {} &mdash; the period ratio between the smallest and largest lr&middot;wd is <b>{:.2}</b>; \
             the 1/(lr&middot;wd) scaling predicts <b>{:.2}</b>. Shrinking with lr&middot;wd: <b>{}</b>.</p>",
            p.points.iter().map(|(k, v)| format!("lr&middot;wd {k:.1e}: {v:.0} steps")).collect::<Vec<_>>().join("; "),
            p.measured_ratio,
            p.predicted_ratio,
            p.shrinking
        );
    }
    h += "<h2>The paper's numbers (P1: ConvNet-32 SI, CIFAR-10, wd 10<sup>&minus;3</sup>, 1000 epochs)</h2>\
          <table><tr><th>lr</th><th>behaviour</th><th>test error</th></tr>\
          <tr><td>0.001</td><td>monotone, no destabilisation in 1000 epochs</td><td>~29%</td></tr>\
          <tr><td>0.01</td><td>periodic: spikes near epochs 200, 400, 555, 860</td><td>~17%</td></tr>\
          <tr><td>0.03</td><td>periodic: spikes every 65-90 epochs</td><td>~15-16% at minima</td></tr>\
          <tr><td>1.0</td><td>chaotic / stationary</td><td>22-45%</td></tr></table>\
          <p>Destabilisation at ELR ~1e-3..3e-3 with g_eff ~0.1-0.3; the ELR then falls back to ~2e-4..1e-3. \
          The period scales like 1/(lr&middot;wd) iterations.</p>";
    h
}

fn regime_tables(e: Experiment, a: &SweepAnalysis) -> String {
    let mut runs: Vec<&RunAnalysis> = a.runs.iter().collect();
    runs.sort_by(|x, y| x.elr.partial_cmp(&y.elr).unwrap());
    let mut h = String::from(
        "<h2>Ours, per ELR</h2><table><tr><th>ELR</th><th>regime</th><th>tail train loss</th><th>tail train acc</th>\
         <th>tail test error</th><th>tail g_eff</th><th>ln-loss slope / epoch (t)</th></tr>",
    );
    for r in runs {
        let g = &r.regime;
        h += &format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{:.2e} ({:.1})</td></tr>",
            format!("{:?}", g.regime).to_lowercase(),
            f(r.elr),
            format!("{:?}", g.regime).to_lowercase(),
            f(g.tail_train_loss),
            g.tail_train_acc,
            1.0 - g.tail_test_acc,
            f(g.tail_eff_grad_norm),
            g.loss_slope,
            g.loss_slope_t
        );
    }
    h += "</table>";
    if let Some(b) = &a.boundaries {
        let show = |x: &Option<[f64; 2]>| {
            x.map(|[lo, hi]| format!("between {lo:.1e} and {hi:.1e}")).unwrap_or("not found".into())
        };
        h += &format!(
            "<p>Boundaries: convergence &rarr; chaotic <b>{}</b>; chaotic &rarr; divergence <b>{}</b>; regimes in increasing-ELR order: <b>{}</b>.</p>",
            show(&b.convergence_chaotic),
            show(&b.chaotic_divergence),
            b.ordered
        );
    }
    if e == Experiment::Regimes {
        h += "<h2>The paper's numbers (P2: ConvNet-32 SI, CIFAR-10, 1000 epochs)</h2><table><tr><th>regime</th><th>ELR</th>\
              <th>train loss at 1000 ep</th><th>test error</th><th>g_eff</th></tr>\
              <tr class=\"convergence\"><td>1 convergence</td><td>1e-5 / 1e-4 / 5e-4</td><td>7e-3 / 8e-4 / 1.5e-4</td><td>28% / 21% / 17%</td><td>falls to 5 / 1 / 0.3</td></tr>\
              <tr class=\"chaotic\"><td>2 chaotic equilibrium</td><td>1e-3 / 2e-3 / 5e-3</td><td>0.4 / 0.8 / 1.5, flat and noisy</td><td>25-45% / 35-55% / 45-80%</td><td>20-100</td></tr>\
              <tr class=\"divergence\"><td>3 divergence</td><td>5e-2 / 1e-1</td><td>~ initial loss</td><td>~90% (chance)</td><td>3e3-3e4</td></tr></table>\
              <p>Boundaries: 1&rarr;2 between 5e-4 and 1e-3; 2&rarr;3 between 5e-3 and 5e-2. Best test error just below the 1&rarr;2 boundary.</p>";
    } else {
        h += "<h2>The paper's result (P3, MSE loss)</h2><p>The same three regimes appear with MSE loss \
              (||f(x) &minus; onehot(y)||&sup2;/C); reaching the convergence regime needs wider networks and longer training.</p>";
    }
    h
}

/// The whole report.
#[allow(clippy::too_many_arguments)]
pub fn report(
    e: Experiment,
    s: Scale,
    sweep_toml: &str,
    a: &SweepAnalysis,
    figs: &[(String, PathBuf)],
    checks: &[(String, bool)],
    seconds: f64,
    rows: usize,
    points: usize,
) -> Result<String> {
    let title = match e {
        Experiment::Periodic => "P1: periodic behaviour of SGD with weight decay (full space)",
        Experiment::Regimes => "P2: three regimes of training on the sphere",
        Experiment::Mse => "P3: the three regimes with MSE loss",
    };
    let mut h = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>silab reproduce {} ({})</title><style>\
         body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}} table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}} th{{background:#f4f4f4}}\
         .pass{{color:#080}} .fail{{color:#b00}} tr.convergence td{{background:#eef8ee}} tr.chaotic td{{background:#fff4e6}}\
         tr.divergence td{{background:#fbeaea}} img{{max-width:100%;border:1px solid #eee}} pre{{background:#f8f8f8;padding:1em}}</style></head><body>\
         <h1>{}</h1><p>silab {} &middot; <code>silab reproduce {} --scale {}</code> &middot; {} runs, {} table rows &middot; \
         took <b>{:.1} minutes</b>.</p>",
        e.name(),
        s.name(),
        title,
        env!("CARGO_PKG_VERSION"),
        e.name(),
        s.name(),
        points,
        rows,
        seconds / 60.0
    );
    h += "<h2>What matched</h2><ul>";
    for (what, ok) in checks {
        h += &format!(
            "<li class=\"{}\">{} {}</li>",
            if *ok { "pass" } else { "fail" },
            if *ok { "&#10003;" } else { "&#10007;" },
            esc(what)
        );
    }
    h += "</ul>";
    if s != Scale::Paper {
        h += "<p>Scale note: this run uses the built-in synthetic data and a narrow ConvNet on a CPU, so absolute \
              numbers (ELRs, periods in epochs, errors) differ from the papers' ConvNet-32 on CIFAR-10; the phenomena \
              and their ordering are what is compared.</p>";
    }
    for (caption, png) in figs {
        let bytes = std::fs::read(png)?;
        h += &format!(
            "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>",
            esc(caption),
            base64::engine::general_purpose::STANDARD.encode(bytes),
            esc(caption)
        );
    }
    h += &match e {
        Experiment::Periodic => periodic_tables(a),
        _ => regime_tables(e, a),
    };
    h += &format!("<h2>The sweep</h2><pre>{}</pre>", esc(sweep_toml));
    h += "<p>Definitions: an S-jump is an epoch where the train loss rises to at least 5&times; its minimum over the previous \
          10 epochs while &rho; rises by at least 1% within 2 epochs; a new S-jump also needs 5 epochs and a re-converged loss (back to at most 2&times; the previous jump's pre-spike minimum) since the last one. Regimes are read from the last 30% \
          of the epochs: divergence when the train accuracy stays below chance + 0.15&times;(1 &minus; chance) while the train loss stays above 0.3&times; its initial value (or is not finite); convergence when \
          the train accuracy reaches 99% or ln(train loss) keeps falling (least-squares slope with t &lt; &minus;3); chaotic \
          equilibrium otherwise.</p>\
          <script>window.addEventListener('load',function(){var i=[].slice.call(document.images);\
          document.body.setAttribute('data-images-loaded',i.filter(function(x){return x.complete&&x.naturalWidth>0}).length+'/'+i.length);});</script>\
          </body></html>";
    Ok(h)
}
