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
    /// The same tick labels as written, with their pixel position along the axis.
    y_labels: Vec<Vec<(String, f64)>>,
    x_labels: Vec<Vec<(String, f64)>>,
    texts: Vec<String>,
    height: f64,
    width: f64,
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
    let numeric = |e: &&&El| e.text.parse::<f64>().is_ok();
    let y_labels: Vec<Vec<(String, f64)>> = plots
        .iter()
        .map(|&(x0, y0, _, y1)| {
            texts
                .iter()
                .filter(|e| {
                    // right-aligned, in the label area left of this plot (not a plot further left)
                    e.is("text-anchor", "end")
                        && e.f("x") < x0
                        && e.f("x") > x0 - 75.0
                        && e.f("y") >= y0 - 1.0
                        && e.f("y") <= y1 + 1.0
                })
                .filter(numeric)
                .map(|e| (e.text.clone(), e.f("y")))
                .collect()
        })
        .collect();
    let x_labels: Vec<Vec<(String, f64)>> = plots
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
                .filter(numeric)
                .map(|e| (e.text.clone(), e.f("x")))
                .collect()
        })
        .collect();
    let values = |l: &Vec<Vec<(String, f64)>>| -> Vec<Vec<f64>> {
        l.iter().map(|v| v.iter().map(|(t, _)| t.parse().unwrap()).collect()).collect()
    };
    let svg = els.iter().find(|e| e.name == "svg");
    Seen {
        plots,
        marks,
        legends,
        y_ticks: values(&y_labels),
        x_ticks: values(&x_labels),
        y_labels,
        x_labels,
        texts: texts.iter().map(|e| e.text.clone()).collect(),
        height: svg.map_or(f64::NAN, |e| e.f("height")),
        width: svg.map_or(f64::NAN, |e| e.f("width")),
    }
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
            label: format!("lr·wd = {}", silab::numfmt::num(2.5e-3 * (i + 1) as f64)),
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

/// A panel of one curve through `points`.
fn one(title: &str, points: Vec<(f64, f64)>, log_y: bool) -> Panel {
    Panel {
        title: title.into(),
        x_label: "x".into(),
        y_label: "y".into(),
        log_y,
        curves: vec![Curve { label: String::new(), points, style: Style::LinePoints, color: 0 }],
        ..Default::default()
    }
}

/// The labels of an axis as written.
fn texts(labels: &[(String, f64)]) -> Vec<&str> {
    labels.iter().map(|(t, _)| t.as_str()).collect()
}

/// Tick labels that are their ticks: the pixel position of every label is an affine function of
/// the value it reads (of its log10 on a log axis), to within a pixel. A label rounded away from
/// its tick (15 written `20`) is off that line by a quarter of the spacing.
fn assert_labels_are_ticks(what: &str, labels: &[(String, f64)], log: bool) {
    assert!(labels.len() >= 3, "{what}: tick labels {labels:?}");
    let pts: Vec<(f64, f64)> = labels
        .iter()
        .map(|(t, px)| {
            let v: f64 = t.parse().unwrap();
            (if log { v.log10() } else { v }, *px)
        })
        .collect();
    let (a, b) = (pts[0], pts[pts.len() - 1]);
    for &(v, px) in &pts {
        let want = a.1 + (b.1 - a.1) * (v - a.0) / (b.0 - a.0);
        assert!((px - want).abs() <= 1.0, "{what}: label {v} at {px}, its tick at {want}: {labels:?}");
    }
}

/// Ticks 0/5/10/15 and 0.5/1/1.5 are labelled so (not 20 and 2), decades on a log axis from 1e-3
/// to 1e-1 read as decades, a constant series gets distinct labels that include its value, and a
/// symmetric range around 0 (7 points from -0.3 by 0.1, the centre a float sum of -5.6e-17)
/// labels its centre `0`, on line panels and on the heatmap of a 2-D slice.
#[test]
fn tick_labels_equal_tick_values() {
    let (dir, _keep) = out_dir();
    let sym: Vec<f64> = (0..7).map(|i| -0.3 + i as f64 * 0.1).collect();
    let panels = vec![
        one("0 to 15", (0..=15).map(|i| (i as f64, 0.4 + 1.2 * i as f64 / 15.0)).collect(), false),
        one("1e-3 to 1e-1", (0..=20).map(|i| (i as f64, 1e-3 * 10f64.powf(i as f64 / 10.0))).collect(), true),
        one("constant", (0..10).map(|i| (i as f64, 0.7)).collect(), false),
        one("symmetric", sym.iter().map(|&a| (a, a * a)).collect(), false),
    ];
    let fig = Figure { panels, cols: 2, panel_size: (520, 380) };
    fig.save(&dir.join("ticks")).unwrap();
    let s = read(&dir.join("ticks.svg"));
    assert_eq!(s.plots.len(), 4);
    assert_eq!(texts(&s.x_labels[0]), ["0", "5", "10", "15"]);
    assert_eq!(texts(&s.y_labels[0]), ["0.5", "1", "1.5"]);
    assert_eq!(texts(&s.y_labels[1]), ["1e-3", "0.01", "0.1"]);
    assert!(texts(&s.y_labels[2]).contains(&"0.7"), "constant: {:?}", s.y_labels[2]);
    assert!(texts(&s.x_labels[3]).contains(&"0"), "symmetric: {:?}", s.x_labels[3]);
    for (i, p) in fig.panels.iter().enumerate() {
        assert_labels_are_ticks(&format!("{} x", p.title), &s.x_labels[i], false);
        assert_labels_are_ticks(&format!("{} y", p.title), &s.y_labels[i], p.log_y);
    }
    let z: Vec<Vec<f64>> = sym.iter().map(|b| sym.iter().map(|a| 1.0 + a * a + b * b).collect()).collect();
    silab::report::figures::heatmap(&dir.join("slice"), "slice", ("alpha", "beta", "loss"), &sym, &sym, &z, true)
        .unwrap();
    let s = read(&dir.join("slice.svg"));
    assert_eq!(s.plots.len(), 1, "the heatmap's plot area");
    for (what, labels) in [("alpha", &s.x_labels[0]), ("beta", &s.y_labels[0])] {
        assert!(texts(labels).contains(&"0"), "{what}: {labels:?}");
        assert!(labels.iter().all(|(t, _)| t.len() <= 5), "{what}: {labels:?}");
        assert_labels_are_ticks(what, labels, false);
    }
}

/// The text elements of a title: above the plot area and centred.
fn title_lines(path: &Path) -> Vec<(String, f64, f64)> {
    let els = parse(path);
    let top = els
        .iter()
        .filter(|e| e.name == "rect" && e.is("fill", &hex(PLOT_BG)))
        .map(|e| e.f("y"))
        .fold(f64::INFINITY, f64::min);
    els.iter()
        .filter(|e| e.name == "text" && e.is("text-anchor", "middle") && e.f("y") < top)
        .map(|e| (e.text.clone(), e.f("x"), e.f("font-size")))
        .collect()
}

/// A title far wider than its panel (and the heatmap's) shows whole: its lines, joined, are the
/// title, and each lies inside the canvas at the width DejaVu Sans gives it.
#[test]
fn long_titles_are_not_clipped() {
    use plotters::style::IntoFont;
    let (dir, _keep) = out_dir();
    let title = "final train loss against the effective learning rate, seeds averaged, \
                 regimes shaded, theory dashed (ConvNet-32 on CIFAR-10, 200 epochs)";
    let fig = Figure { panels: vec![one(title, vec![(0.0, 1.0), (1.0, 2.0)], false)], cols: 1, panel_size: (520, 380) };
    fig.save(&dir.join("long_title")).unwrap();
    let z = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
    silab::report::figures::heatmap(
        &dir.join("long_heat"),
        title,
        ("a", "b", "loss"),
        &[0.0, 1.0],
        &[0.0, 1.0],
        &z,
        true,
    )
    .unwrap();
    for name in ["long_title", "long_heat"] {
        let path = dir.join(format!("{name}.svg"));
        let width = read(&path).width;
        let lines = title_lines(&path);
        let words: Vec<&str> = lines.iter().flat_map(|(t, ..)| t.split_whitespace()).collect();
        assert_eq!(words.join(" "), title.split_whitespace().collect::<Vec<_>>().join(" "), "{name}: {lines:?}");
        for (text, x, size) in &lines {
            let (w, _) = ("sans-serif", *size).into_font().box_size(text).unwrap();
            let (left, right) = (x - w as f64 / 2.0, x + w as f64 / 2.0);
            assert!(left >= 0.0 && right <= width, "{name}: `{text}` spans {left}..{right} of 0..{width}");
        }
    }
}
