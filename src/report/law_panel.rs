//! A power law in lr*wd as a figure panel: the points of each arm (or run set) on log-log axes,
//! with a 1/(lr*wd) reference line through each.

use super::figures::{Curve, Panel, Style};
use crate::analysis::law::Law;

/// A law's points against lr*wd in one panel, each arm its own colour, with a 1/(lr*wd)
/// reference through each arm's geometric centre.
pub(crate) fn law_panel(title: &str, y: &str, laws: &[(&str, &Law)]) -> Panel {
    let mut p = Panel {
        title: title.into(),
        x_label: "lr·wd".into(),
        y_label: y.into(),
        log_x: true,
        log_y: true,
        ..Default::default()
    };
    for (i, (label, l)) in laws.iter().enumerate() {
        if l.points.is_empty() {
            continue;
        }
        p.curves.push(Curve { label: label.to_string(), points: l.points.clone(), style: Style::LinePoints, color: i });
        let n = l.points.len() as f64;
        let c = (l.points.iter().map(|p| p.0.ln() + p.1.ln()).sum::<f64>() / n).exp(); // steps × lr·wd
        let (lo, hi) = (l.points[0].0 / 1.3, l.points[l.points.len() - 1].0 * 1.3);
        p.curves.push(Curve {
            label: if p.curves.len() == 1 { "thin: ∝ 1/(lr·wd), each arm".into() } else { String::new() },
            points: vec![(lo, c / lo), (hi, c / hi)],
            style: Style::Reference,
            color: i,
        });
    }
    p
}
