//! Figures: a row of panels (line and point series, log axes, shaded x-ranges), drawn with
//! plotters to PNG and SVG. The font (DejaVu Sans) is embedded, so drawing needs no system fonts.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    Line,
    Points,
    LinePoints,
    /// Dashed-looking reference line (drawn thinner, in the series colour).
    Reference,
}

/// One curve or point set.
#[derive(Clone, Debug)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Index into the palette (same index = same colour across panels).
    pub color: usize,
}

/// One plot.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub curves: Vec<Curve>,
    /// Shaded x-ranges `(x0, x1, label, palette index)`, e.g. the regimes.
    pub shade: Vec<(f64, f64, String, usize)>,
}

/// A row (or grid) of panels.
#[derive(Clone, Debug)]
pub struct Figure {
    pub panels: Vec<Panel>,
    pub cols: usize,
    pub panel_size: (u32, u32),
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Palette colour `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
    });
}

fn bounds(p: &Panel) -> ((f64, f64), (f64, f64)) {
    let ok = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let pts: Vec<(f64, f64)> = p
        .curves
        .iter()
        .flat_map(|c| c.points.iter().cloned())
        .filter(|&(x, y)| ok(x, p.log_x) && ok(y, p.log_y))
        .collect();
    let xs = pts.iter().map(|p| p.0).chain(p.shade.iter().flat_map(|s| [s.0, s.1]).filter(|x| ok(*x, p.log_x)));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (mut y0, mut y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if !x0.is_finite() {
        (x0, x1) = if p.log_x { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if !y0.is_finite() {
        (y0, y1) = if p.log_y { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    let pad = |a: f64, b: f64, log: bool| {
        if log {
            let (la, lb) = (a.log10(), b.log10());
            let d = ((lb - la) * 0.05).max(0.05);
            (10f64.powf(la - d), 10f64.powf(lb + d))
        } else {
            let d = ((b - a) * 0.05).max(1e-12 + a.abs() * 1e-3);
            (a - d, b + d)
        }
    };
    (pad(x0, x1, p.log_x), pad(y0, y1, p.log_y))
}

/// Compact tick labels: `2e-3` on log axes, plain short numbers otherwise.
fn short(v: f64, log: bool) -> String {
    if log {
        let e = v.abs().log10().floor();
        let m = v / 10f64.powf(e);
        if (0.0..=2.0).contains(&e) {
            format!("{}", (v * 100.0).round() / 100.0)
        } else {
            format!("{}e{}", (m * 10.0).round() / 10.0, e)
        }
    } else if v.abs() < 1e-12 {
        "0".into()
    } else if v.abs() < 1e-2 || v.abs() >= 1e4 {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, y1)) = bounds(p);
    let mut b = ChartBuilder::on(area);
    b.caption(&p.title, ("sans-serif", 18)).margin(8).x_label_area_size(40).y_label_area_size(64);
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            let fx = |v: &f64| short(*v, p.log_x);
            let fy = |v: &f64| short(*v, p.log_y);
            chart
                .configure_mesh()
                .x_labels(8)
                .y_labels(8)
                .x_label_formatter(&fx)
                .y_label_formatter(&fy)
                .x_desc(&p.x_label)
                .y_desc(&p.y_label)
                .label_style(("sans-serif", 12))
                .axis_desc_style(("sans-serif", 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(e)?;
            for (s0, s1, label, c) in &p.shade {
                let col = color(*c).mix(0.15);
                let s = chart
                    .draw_series(std::iter::once(Rectangle::new([(*s0, y0), (*s1, y1)], col.filled())))
                    .map_err(e)?;
                if !label.is_empty() {
                    s.label(label.clone())
                        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], col.filled()));
                }
            }
            for c in &p.curves {
                let col = color(c.color);
                let pts: Vec<(f64, f64)> = c
                    .points
                    .iter()
                    .cloned()
                    .filter(|&(x, y)| x.is_finite() && y.is_finite() && (!p.log_x || x > 0.0) && (!p.log_y || y > 0.0))
                    .collect();
                let label = c.label.clone();
                match c.style {
                    Style::Line | Style::LinePoints | Style::Reference => {
                        let width = if c.style == Style::Reference { 1 } else { 2 };
                        let s = chart.draw_series(LineSeries::new(pts.clone(), col.stroke_width(width))).map_err(e)?;
                        if !label.is_empty() {
                            s.label(label.clone())
                                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], col.stroke_width(2)));
                        }
                        if c.style == Style::LinePoints {
                            chart.draw_series(pts.iter().map(|&q| Circle::new(q, 3, col.filled()))).map_err(e)?;
                        }
                    }
                    Style::Points => {
                        let s = chart.draw_series(pts.iter().map(|&q| Circle::new(q, 3, col.filled()))).map_err(e)?;
                        if !label.is_empty() {
                            s.label(label).legend(move |(x, y)| Circle::new((x + 8, y), 3, col.filled()));
                        }
                    }
                }
            }
            if p.curves.iter().any(|c| !c.label.is_empty()) || !p.shade.is_empty() {
                chart
                    .configure_series_labels()
                    .label_font(("sans-serif", 12))
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(200, 200, 200))
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()
                    .map_err(e)?;
            }
        }};
    }
    match (p.log_x, p.log_y) {
        (false, false) => body!(b.build_cartesian_2d(x0..x1, y0..y1).map_err(e)?),
        (true, false) => body!(b.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(e)?),
        (false, true) => body!(b.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(e)?),
        (true, true) => body!(b.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale()).map_err(e)?),
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, f: &Figure) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let cols = f.cols.max(1);
    let rows = f.panels.len().div_ceil(cols);
    let areas = root.split_evenly((rows, cols));
    for (a, p) in areas.iter().zip(&f.panels) {
        draw_panel(a, p)?;
    }
    root.present().map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}

impl Figure {
    /// Pixel size of the whole figure.
    pub fn size(&self) -> (u32, u32) {
        let cols = self.cols.max(1) as u32;
        let rows = self.panels.len().div_ceil(self.cols.max(1)) as u32;
        (self.panel_size.0 * cols, self.panel_size.1 * rows)
    }
    /// Write `stem.png` and `stem.svg`.
    pub fn save(&self, stem: &Path) -> Result<()> {
        register_font();
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");
        draw(BitMapBackend::new(&png, self.size()).into_drawing_area(), self)?;
        draw(SVGBackend::new(&svg, self.size()).into_drawing_area(), self)?;
        Ok(())
    }
}

/// One heatmap cell: x range, y range, colour.
type Cell = ((f64, f64), (f64, f64), RGBColor);

/// A colour for `v` in [0, 1] on a viridis-like ramp (dark blue → green → yellow).
fn ramp(v: f64) -> RGBColor {
    const STOPS: [(f64, (f64, f64, f64)); 5] = [
        (0.0, (68.0, 1.0, 84.0)),
        (0.25, (59.0, 82.0, 139.0)),
        (0.5, (33.0, 145.0, 140.0)),
        (0.75, (94.0, 201.0, 98.0)),
        (1.0, (253.0, 231.0, 37.0)),
    ];
    let v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 1.0 };
    let i = STOPS.iter().position(|s| s.0 >= v).unwrap_or(4).max(1);
    let (a, b) = (STOPS[i - 1], STOPS[i]);
    let f = (v - a.0) / (b.0 - a.0);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.1.0, b.1.0), mix(a.1.1, b.1.1), mix(a.1.2, b.1.2))
}

/// A heatmap of `z` over a regular grid (`xs` × `ys`, `z[j][i]` at `(xs[i], ys[j])`), the colour
/// on a log10 scale when `log_z` (non-finite values drawn as the top colour), with a colour bar,
/// written to `stem.png` and `stem.svg`. For 2-D loss slices.
pub fn heatmap(
    stem: &Path,
    title: &str,
    labels: (&str, &str, &str),
    xs: &[f64],
    ys: &[f64],
    z: &[Vec<f64>],
    log_z: bool,
) -> Result<()> {
    register_font();
    let tf = |v: f64| if log_z { v.max(1e-300).log10() } else { v };
    let finite: Vec<f64> = z.iter().flatten().map(|&v| tf(v)).filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
    let half = |v: &[f64], i: usize| {
        let d = if v.len() > 1 { (v[1] - v[0]) / 2.0 } else { 0.5 };
        (v[i] - d, v[i] + d)
    };
    fn draw_it<DB: DrawingBackend>(
        root: DrawingArea<DB, Shift>,
        title: &str,
        labels: (&str, &str, &str),
        cells: &[Cell],
        bounds: ((f64, f64), (f64, f64)),
        bar: (f64, f64, bool),
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        root.fill(&WHITE).map_err(e)?;
        let (main, side) = root.split_horizontally(560);
        let mut chart = ChartBuilder::on(&main)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(bounds.0.0..bounds.0.1, bounds.1.0..bounds.1.1)
            .map_err(e)?;
        let f = |v: &f64| short(*v, false);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&f)
            .y_label_formatter(&f)
            .x_desc(labels.0)
            .y_desc(labels.1)
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(cells.iter().map(|&((x0, x1), (y0, y1), c)| Rectangle::new([(x0, y0), (x1, y1)], c.filled())))
            .map_err(e)?;
        chart.draw_series(std::iter::once(Cross::new((0.0, 0.0), 6, WHITE.stroke_width(2)))).map_err(e)?;
        let (lo, hi, log) = bar;
        let mut cb = ChartBuilder::on(&side)
            .margin_top(40)
            .margin_bottom(50)
            .margin_right(10)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(e)?;
        let desc = if log { format!("log10 {}", labels.2) } else { labels.2.to_string() };
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_label_formatter(&f)
            .y_desc(desc)
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        let n = 64;
        cb.draw_series((0..n).map(|i| {
            let (a, b) = (lo + (hi - lo) * i as f64 / n as f64, lo + (hi - lo) * (i + 1) as f64 / n as f64);
            Rectangle::new([(0.0, a), (1.0, b)], ramp((i as f64 + 0.5) / n as f64).filled())
        }))
        .map_err(e)?;
        root.present().map_err(|e| anyhow!("{e:?}"))?;
        Ok(())
    }
    let mut cells = vec![];
    for (j, row) in z.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            let c = ramp((tf(v) - lo) / (hi - lo));
            cells.push((half(xs, i), half(ys, j), c));
        }
    }
    let bounds = ((half(xs, 0).0, half(xs, xs.len() - 1).1), (half(ys, 0).0, half(ys, ys.len() - 1).1));
    let size = (720, 520);
    draw_it(
        BitMapBackend::new(&stem.with_extension("png"), size).into_drawing_area(),
        title,
        labels,
        &cells,
        bounds,
        (lo, hi, log_z),
    )?;
    draw_it(
        SVGBackend::new(&stem.with_extension("svg"), size).into_drawing_area(),
        title,
        labels,
        &cells,
        bounds,
        (lo, hi, log_z),
    )?;
    Ok(())
}
