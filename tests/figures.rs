//! Figures read back from their SVG: every log axis has at least 3 tick labels over 0.3, 1 and 6
//! decades, no legend box covers a data point, no point lies outside its plot area, and values
//! that cannot be drawn are said so on the figure.

use silab::report::figures::{Curve, Figure, LEGEND_BORDER, PLOT_BG, Panel, Style};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the figures go: `$SILAB_FIGURE_DIR` to look at them, else a temporary folder.
fn out_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("SILAB_FIGURE_DIR") {
        Ok(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (PathBuf::from(d), None)
        }
        Err(_) => {
            let t = tempfile::tempdir().unwrap();
            (t.path().to_path_buf(), Some(t))
        }
    }
}

/// `n` points from `lo` to `hi`, geometric, along x = 1..=n.
fn series(lo: f64, hi: f64, n: usize) -> Vec<(f64, f64)> {
    (0..n).map(|i| ((i + 1) as f64, lo * (hi / lo).powf(i as f64 / (n - 1) as f64))).collect()
}

/// One SVG element: its name, attributes and text.
struct El {
    name: String,
    attrs: HashMap<String, String>,
    text: String,
}

impl El {
    fn f(&self, k: &str) -> f64 {
        self.attrs.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
    }
    fn is(&self, k: &str, v: &str) -> bool {
        self.attrs.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v))
    }
}

/// The elements of an SVG file as plotters writes it (flat, one element per tag).
fn parse(path: &Path) -> Vec<El> {
    let svg = std::fs::read_to_string(path).unwrap();
    let mut out = vec![];
    for chunk in svg.split('<').skip(1) {
        if chunk.starts_with('/') || chunk.starts_with('?') {
            continue;
        }
        let (tag, text) = chunk.split_once('>').unwrap_or((chunk, ""));
        let name: String = tag.chars().take_while(|c| !c.is_whitespace() && *c != '/').collect();
        let mut attrs = HashMap::new();
        let mut rest = &tag[name.len()..];
        while let Some(eq) = rest.find("=\"") {
            let key = rest[..eq].trim().to_string();
            let after = &rest[eq + 2..];
            let end = after.find('"').unwrap();
            attrs.insert(key, after[..end].to_string());
            rest = &after[end + 1..];
        }
        out.push(El { name, attrs, text: text.trim().to_string() });
    }
    out
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// `(x0, y0, x1, y1)` of a rect element.
fn rect(e: &El) -> (f64, f64, f64, f64) {
    let (x, y) = (e.f("x"), e.f("y"));
    (x, y, x + e.f("width"), y + e.f("height"))
}

/// What an SVG shows, read back: plot areas, data marks, legend boxes, tick labels, notes.
struct Seen {
    plots: Vec<(f64, f64, f64, f64)>,
    /// Data marks: `(x, y, radius)` (circle centres; polyline vertices with radius 0).
    marks: Vec<(f64, f64, f64)>,
    legends: Vec<(f64, f64, f64, f64)>,
    /// Numeric tick labels left of a plot area (y axis) and under it (x axis), per plot area.
    y_ticks: Vec<Vec<f64>>,
    x_ticks: Vec<Vec<f64>>,
    texts: Vec<String>,
    height: f64,
}

fn read(path: &Path) -> Seen {
    let els = parse(path);
    let plots: Vec<_> = els.iter().filter(|e| e.name == "rect" && e.is("fill", &hex(PLOT_BG))).map(rect).collect();
    let legends: Vec<_> =
        els.iter().filter(|e| e.name == "rect" && e.is("stroke", &hex(LEGEND_BORDER))).map(rect).collect();
    let mut marks = vec![];
    for e in &els {
        if e.name == "circle" {
            marks.push((e.f("cx"), e.f("cy"), e.f("r")));
        }
        // data lines: coloured polylines (axes and ticks are black)
        if e.name == "polyline" && !e.is("stroke", "#000000") {
            for p in e.attrs["points"].split_whitespace() {
                let (x, y) = p.split_once(',').unwrap();
                marks.push((x.parse().unwrap(), y.parse().unwrap(), 0.0));
            }
        }
    }
    let texts: Vec<&El> = els.iter().filter(|e| e.name == "text").collect();
    let num = |e: &&El| e.text.parse::<f64>().ok();
    let y_ticks = plots
        .iter()
        .map(|&(x0, y0, _, y1)| {
            texts
                .iter()
                .filter(|e| e.is("text-anchor", "end") && e.f("x") < x0 && e.f("y") >= y0 - 1.0 && e.f("y") <= y1 + 1.0)
                .filter_map(num)
                .collect()
        })
        .collect();
    let x_ticks = plots
        .iter()
        .map(|&(x0, _, x1, y1)| {
            texts
                .iter()
                .filter(|e| {
                    e.is("text-anchor", "middle")
                        && e.f("y") > y1
                        && e.f("y") < y1 + 20.0
                        && e.f("x") >= x0 - 1.0
                        && e.f("x") <= x1 + 1.0
                })
                .filter_map(num)
                .collect()
        })
        .collect();
    let height = els.iter().find(|e| e.name == "svg").map_or(f64::NAN, |e| e.f("height"));
    Seen { plots, marks, legends, y_ticks, x_ticks, texts: texts.iter().map(|e| e.text.clone()).collect(), height }
}

/// `(name, figure, (log x, log y) per panel, values that cannot be drawn)`.
type Case = (String, Figure, Vec<(bool, bool)>, usize);

/// The figure types silab draws (training curves, final values against the ELR with regime
/// shading and a reference line, an x-log panel), with values spanning `span` decades, some
/// negative or NaN: `(name, figure, which panels have log x / log y, values that cannot be drawn)`.
fn figures(span: f64) -> Vec<Case> {
    let hi = 10f64.powf(span);
    let nine: Vec<Curve> = (0..9)
        .map(|i| Curve {
            label: format!("lr·wd = {}", silab::human::num(2.5e-3 * (i + 1) as f64)),
            points: series(0.37 * hi / (1.0 + i as f64 * 0.01), 0.37, 150),
            style: Style::Line,
            color: i,
        })
        .collect();
    let mut rho = series(1.0, hi, 40);
    rho[3].1 = -1.0;
    rho[7].1 = f64::NAN;
    let loss = Panel {
        title: "train loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        log_y: true,
        curves: nine,
        ..Default::default()
    };
    let err = Panel {
        title: "test error".into(),
        x_label: "epoch".into(),
        y_label: "error".into(),
        curves: vec![Curve {
            label: "seed 0".into(),
            points: series(0.9, 0.9 / hi.min(9.0), 40),
            style: Style::LinePoints,
            color: 0,
        }],
        ..Default::default()
    };
    let rho = Panel {
        title: "rho".into(),
        x_label: "epoch".into(),
        y_label: "‖w‖".into(),
        log_y: true,
        curves: vec![Curve { label: String::new(), points: rho, style: Style::Line, color: 2 }],
        ..Default::default()
    };
    let elrs: Vec<f64> = (0..12).map(|i| 1e-5 * hi.powf(i as f64 / 11.0)).collect();
    let finals: Vec<(f64, f64)> =
        elrs.iter().enumerate().map(|(i, &e)| (e, 2e-3 * hi.powf(((i * 7) % 12) as f64 / 11.0))).collect();
    let fin = Panel {
        title: "final train loss".into(),
        x_label: "ELR".into(),
        y_label: "loss".into(),
        log_x: true,
        log_y: true,
        curves: vec![
            Curve { label: "measured".into(), points: finals.clone(), style: Style::Points, color: 0 },
            Curve {
                label: "theory".into(),
                points: finals.iter().map(|&(x, y)| (x, y * 1.1)).collect(),
                style: Style::Reference,
                color: 3,
            },
        ],
        shade: vec![
            (elrs[0], elrs[4], "convergence".into(), 2),
            (elrs[4], elrs[8], "chaotic equilibrium".into(), 1),
            (elrs[8], elrs[11], "divergence".into(), 3),
        ],
    };
    let acc = Panel {
        title: "final test accuracy".into(),
        x_label: "ELR".into(),
        y_label: "accuracy".into(),
        log_x: true,
        curves: vec![Curve {
            label: String::new(),
            points: elrs.iter().map(|&e| (e, 0.5 + 0.03 * e.log10())).collect(),
            style: Style::LinePoints,
            color: 4,
        }],
        ..Default::default()
    };
    // two panels of the same runs (same labels and colours): one legend, beside the last
    let runs = |log_x: bool| -> Vec<Curve> {
        (0..3)
            .map(|i| Curve {
                label: format!("seed {i}"),
                points: series(hi, 1.0 + i as f64, 30)
                    .into_iter()
                    .map(|(x, y)| (if log_x { x * 1e-3 } else { x }, y))
                    .collect(),
                style: Style::Line,
                color: i,
            })
            .collect()
    };
    let a = Panel {
        title: "train loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        log_y: true,
        curves: {
            // a spread band under the curves (as `silab plot` draws seeds)
            let mut c = runs(false);
            let mut band = series(hi * 1.2, 1.2, 30);
            band.extend(series(hi * 0.8, 0.8, 30).into_iter().rev());
            c.insert(0, Curve { label: String::new(), points: band, style: Style::Band, color: 0 });
            c
        },
        ..Default::default()
    };
    let b = Panel {
        title: "loss against ELR".into(),
        x_label: "ELR".into(),
        y_label: "loss".into(),
        log_x: true,
        log_y: true,
        curves: runs(true),
        ..Default::default()
    };
    vec![
        (
            format!("curves_{}", tag(span)),
            Figure { panels: vec![loss, err, rho], cols: 3, panel_size: (520, 380) },
            vec![(false, true), (false, false), (false, true)],
            2,
        ),
        (
            format!("final_{}", tag(span)),
            Figure { panels: vec![fin, acc], cols: 2, panel_size: (600, 420) },
            vec![(true, true), (true, false)],
            0,
        ),
        (
            format!("many_{}", tag(span)),
            Figure {
                panels: vec![Panel {
                    title: "20 runs".into(),
                    x_label: "epoch".into(),
                    y_label: "loss".into(),
                    log_y: true,
                    curves: (0..20)
                        .map(|i| Curve {
                            label: format!("run {i}"),
                            points: series(hi, 1.0 + i as f64 * 0.1, 20),
                            style: Style::Line,
                            color: i,
                        })
                        .collect(),
                    ..Default::default()
                }],
                cols: 1,
                panel_size: (520, 380),
            },
            vec![(false, true)],
            0,
        ),
        (
            format!("shared_{}", tag(span)),
            Figure { panels: vec![a, b], cols: 2, panel_size: (520, 380) },
            vec![(false, true), (true, true)],
            0,
        ),
    ]
}

/// Every figure type over 0.3, 1 and 6 decades: ≥ 3 tick labels on every log axis, every data
/// mark inside its plot area, no legend box over a data mark, dropped values noted.
#[test]
fn figures_read_back_from_svg_are_readable() {
    let (dir, _keep) = out_dir();
    for span in [0.3, 1.0, 6.0] {
        for (name, fig, logs, dropped) in figures(span) {
            fig.save(&dir.join(&name)).unwrap();
            let s = read(&dir.join(format!("{name}.svg")));
            assert_eq!(s.plots.len(), fig.panels.len(), "{name}: plot areas");
            for (i, &(lx, ly)) in logs.iter().enumerate() {
                if ly {
                    assert!(s.y_ticks[i].len() >= 3, "{name} panel {i}: y tick labels {:?}", s.y_ticks[i]);
                }
                if lx {
                    assert!(s.x_ticks[i].len() >= 3, "{name} panel {i}: x tick labels {:?}", s.x_ticks[i]);
                }
                // tick labels are distinct and increase along the axis
                assert!(s.x_ticks[i].windows(2).all(|w| w[0] < w[1]), "{name} panel {i}: {:?}", s.x_ticks[i]);
            }
            assert!(s.marks.len() > 20, "{name}: {} marks", s.marks.len());
            for &(x, y, r) in &s.marks {
                let inside = s.plots.iter().any(|&(x0, y0, x1, y1)| {
                    x - r >= x0 - 0.5 && x + r <= x1 + 0.5 && y - r >= y0 - 0.5 && y + r <= y1 + 0.5
                });
                assert!(inside, "{name}: mark at ({x}, {y}) r {r} outside every plot area {:?}", s.plots);
                for &(x0, y0, x1, y1) in &s.legends {
                    let over = x + r >= x0 && x - r <= x1 && y + r >= y0 && y - r <= y1;
                    assert!(!over, "{name}: legend box {:?} covers the mark at ({x}, {y})", (x0, y0, x1, y1));
                }
            }
            // legends fit in the figure (a long one ends in "… and N more")
            for &(_, _, _, y1) in &s.legends {
                assert!(y1 <= s.height, "{name}: legend box ends at {y1}, the figure at {}", s.height);
            }
            if name.starts_with("many") {
                assert!(s.texts.iter().any(|t| t.starts_with("… and ") && t.ends_with(" more")), "{name}");
            }
            // a legend box per panel with its own entries; panels of the same runs share one
            let want = if name.starts_with("shared") {
                1
            } else {
                fig.panels
                    .iter()
                    .filter(|p| p.curves.iter().any(|c| !c.label.is_empty()) || !p.shade.is_empty())
                    .count()
            };
            assert_eq!(s.legends.len(), want, "{name}: legend boxes");
            let note = s.texts.iter().find(|t| t.contains("not shown"));
            if dropped > 0 {
                let note = note.unwrap_or_else(|| panic!("{name}: dropped values not noted"));
                assert!(note.starts_with(&format!("{dropped} of ")), "{name}: {note}");
            } else {
                assert!(note.is_none(), "{name}: {note:?}");
            }
            // legend values for people: 2.5e-3, not 3e-3
            if name.starts_with("curves") {
                assert!(s.texts.iter().any(|t| t == "lr·wd = 2.5e-3"), "{name}: {:?}", &s.texts[..10]);
            }
        }
    }
}

/// `0.3` → `0p3` (a dot would be taken for the file extension).
fn tag(span: f64) -> String {
    span.to_string().replace('.', "p")
}
