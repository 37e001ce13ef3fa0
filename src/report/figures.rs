//! Figures: a row of panels (line and point series, log axes, shaded x-ranges), drawn with
//! plotters to PNG and SVG. The font (DejaVu Sans) is embedded, so drawing needs no system fonts.

use crate::numfmt;
use anyhow::{Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
    /// A shaded band (a spread): the points go along the upper edge and back along the lower.
    Band,
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
    let pts: Vec<(f64, f64)> =
        p.curves.iter().flat_map(|c| c.points.iter().cloned()).filter(|&q| shown(p, q)).collect();
    let ok = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let xs = pts.iter().map(|p| p.0).chain(p.shade.iter().flat_map(|s| [s.0, s.1]).filter(|x| ok(*x, p.log_x)));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (mut y0, mut y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if !x0.is_finite() {
        (x0, x1) = if p.log_x { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if !y0.is_finite() {
        (y0, y1) = if p.log_y { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    // a margin of 6% of the range (in log space on log axes), so no marker touches the frame
    let pad = |a: f64, b: f64, log: bool| {
        if log {
            let (la, lb) = (a.log10(), b.log10());
            let d = ((lb - la) * 0.06).max(0.02);
            (10f64.powf(la - d), 10f64.powf(lb + d))
        } else {
            let d = ((b - a) * 0.06).max(1e-12 + a.abs() * 1e-3);
            (a - d, b + d)
        }
    };
    (pad(x0, x1, p.log_x), pad(y0, y1, p.log_y))
}

/// A polyline cut into pieces (index ranges, each sharing its first point with the previous
/// piece's last) wherever it turns back by more than 150° in pixel space: a thick line's miter
/// join at such a turn is a spike far out of the plot in the bitmap backend (a loss that jumps
/// up and falls back within one pixel column).
#[allow(clippy::single_range_in_vec_init)]
fn at_sharp_turns(px: &[(i32, i32)]) -> Vec<std::ops::Range<usize>> {
    if px.len() < 3 {
        return vec![0..px.len()];
    }
    // the turns are measured between distinct pixels (a spike's tip may repeat one)
    let mut keep: Vec<usize> = vec![0];
    for i in 1..px.len() {
        if px[i] != px[keep[keep.len() - 1]] {
            keep.push(i);
        }
    }
    let mut cuts = vec![0];
    for w in keep.windows(3) {
        let (a, b, c) = (px[w[0]], px[w[1]], px[w[2]]);
        let (u, v) = (((b.0 - a.0) as f64, (b.1 - a.1) as f64), ((c.0 - b.0) as f64, (c.1 - b.1) as f64));
        let (nu, nv) = (u.0.hypot(u.1), v.0.hypot(v.1));
        if (u.0 * v.0 + u.1 * v.1) / (nu * nv) < -0.866 {
            cuts.push(w[1]);
        }
    }
    cuts.push(px.len() - 1);
    cuts.windows(2).map(|w| w[0]..w[1] + 1).collect()
}

/// Whether a point can be drawn: finite, and positive on a log axis.
fn shown(p: &Panel, (x, y): (f64, f64)) -> bool {
    x.is_finite() && y.is_finite() && (!p.log_x || x > 0.0) && (!p.log_y || y > 0.0)
}

/// About `n` round ticks (1, 2 or 5 × 10^k apart) inside `[lo, hi]`, never fewer than 3.
fn linear_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let raw = (hi - lo) / n as f64;
    if !(raw > 0.0 && raw.is_finite()) {
        return vec![lo];
    }
    let mag = 10f64.powf(raw.log10().floor());
    // the round steps from 10^k·10 down; the first one at least `raw`, smaller while < 3 ticks
    let steps: Vec<f64> = [10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1].iter().map(|m| m * mag).collect();
    let ticks = |step: f64| -> Vec<f64> {
        let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
        (first..=last).map(|k| k as f64 * step).collect()
    };
    let start = steps.iter().rposition(|&s| s >= raw).unwrap_or(0);
    steps[start..].iter().map(|&s| ticks(s)).find(|t| t.len() >= 3).unwrap_or_else(|| ticks(steps[steps.len() - 1]))
}

/// Ticks for a log axis over `[lo, hi]` (both > 0): at least 3 over any range. Decades when
/// there are 3 or more (every second or third on wide ranges); else 1-2-5 and then 1…9 times
/// the decades; on a range narrower than that, round linear steps.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10(), hi.log10());
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-12) && *v <= hi * (1.0 + 1e-12);
    let decades: Vec<i32> = (a.ceil() as i32..=b.floor() as i32).collect();
    if decades.len() >= 3 {
        let stride = decades.len().div_ceil(8);
        return decades
            .iter()
            .filter(|k| ((*k - decades[0]) as usize).is_multiple_of(stride))
            .map(|&k| 10f64.powi(k))
            .collect();
    }
    for mults in [&[1.0, 2.0, 5.0][..], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]] {
        let t: Vec<f64> = (a.floor() as i32..=b.ceil() as i32)
            .flat_map(|k| mults.iter().map(move |m| m * 10f64.powi(k)))
            .filter(inside)
            .collect();
        if t.len() >= 3 {
            return t;
        }
    }
    linear_ticks(lo, hi, 4)
}

/// Tick labels that read back as their ticks: each the shortest [`numfmt::num_sig`] form within
/// 1e-9 of its distance to the nearest tick (15 reads `15`, never `2e1`). A tick within 1e-12 of
/// that distance from 0 reads `0`: it is 0 up to rounding (the centre of a symmetric range summed
/// in floats is -2.2e-16).
pub fn tick_labels(ticks: &[f64]) -> Vec<String> {
    (0..ticks.len())
        .map(|i| {
            let v = ticks[i];
            let near = [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| ticks.get(j))
                .map(|t| (t - v).abs())
                .filter(|d| *d > 0.0)
                .fold(f64::INFINITY, f64::min);
            let scale = if near.is_finite() { near } else { v.abs().max(f64::MIN_POSITIVE) };
            if v.abs() <= 1e-12 * scale {
                return "0".into();
            }
            (1..=17)
                .map(|sig| numfmt::num_sig(v, sig))
                .find(|l| l.parse::<f64>().is_ok_and(|x| (x - v).abs() <= 1e-9 * scale))
                .unwrap_or_else(|| numfmt::num_sig(v, 17))
        })
        .collect()
}

/// One axis: linear or log10, with the ticks [`linear_ticks`] or [`log_ticks`] chose (plotters'
/// own log ticks can leave a range under a decade with one label or none, its linear ones are
/// float sums) and their [`tick_labels`].
struct Axis {
    scale: Scale,
    ticks: Vec<f64>,
    labels: Vec<String>,
}

enum Scale {
    Lin(RangedCoordf64),
    Log(LogCoord<f64>),
}

impl Axis {
    /// About `n` ticks over `[lo, hi]` on a linear axis; the log axis picks its own number.
    fn new(lo: f64, hi: f64, log: bool, n: usize) -> Axis {
        let ticks = if log { log_ticks(lo, hi) } else { linear_ticks(lo, hi, n) };
        let labels = tick_labels(&ticks);
        let scale = if log { Scale::Log(LogCoord::from((lo..hi).log_scale())) } else { Scale::Lin((lo..hi).into()) };
        Axis { scale, ticks, labels }
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, v: &f64) -> String {
        let at = self.ticks.iter().position(|t| (t - v).abs() <= 1e-9 * t.abs().max(1e-300));
        at.map_or_else(|| numfmt::num(*v), |i| self.labels[i].clone())
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        match &self.scale {
            Scale::Lin(r) => r.map(v, limit),
            Scale::Log(r) => r.map(v, limit),
        }
    }
    fn key_points<H: KeyPointHint>(&self, _: H) -> Vec<f64> {
        self.ticks.clone()
    }
    fn range(&self) -> std::ops::Range<f64> {
        match &self.scale {
            Scale::Lin(r) => r.range(),
            Scale::Log(r) => r.range(),
        }
    }
}

/// The plotting area's fill, just off white: tests find each plot area in the SVG by it.
pub const PLOT_BG: RGBColor = RGBColor(252, 252, 252);
/// The legend box's border colour (the legend sits right of the plot, never over data).
pub const LEGEND_BORDER: RGBColor = RGBColor(190, 190, 190);

/// Legend entries of a panel: `(label, colour, swatch)`.
fn legend(p: &Panel) -> Vec<(String, RGBAColor, Style)> {
    let mut out: Vec<(String, RGBAColor, Style)> = vec![];
    for (_, _, label, c) in &p.shade {
        if !label.is_empty() {
            out.push((label.clone(), color(*c).mix(0.25), Style::Points));
        }
    }
    for c in &p.curves {
        // one entry per label and colour (a label may repeat in another colour)
        let col = color(c.color).to_rgba();
        if !c.label.is_empty() && !out.iter().any(|(l, k, _)| *l == c.label && *k == col) {
            out.push((c.label.clone(), color(c.color).to_rgba(), c.style));
        }
    }
    out
}

const LEGEND_CHARS: usize = 44;

/// Width of the legend column beside a panel (0 without legend entries).
fn legend_width(p: &Panel) -> u32 {
    let entries = legend(p);
    // room for "… and N more" when a long legend may be cut to the panel's height
    let floor = if entries.len() > 10 { 16 } else { 0 };
    let chars = entries.iter().map(|(l, ..)| l.chars().count().min(LEGEND_CHARS)).max();
    chars.map_or(0, |c| 52 + 8 * c.max(floor) as u32)
}

/// A drawing error as an [`anyhow::Error`] (plotters' error type depends on the backend).
fn fail<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// Width in pixels of `text` in DejaVu Sans of `size` (an over-estimate if the font cannot say).
fn text_width(text: &str, size: u32) -> u32 {
    let guess = text.chars().count() as u32 * size * 7 / 10;
    ("sans-serif", size as f64).into_font().box_size(text).map_or(guess, |b| b.0)
}

/// How a title fits `width` pixels: at 22 px, else 19 or 16 px on one line, else wrapped at
/// 16 px on word boundaries (a word wider than the whole line is cut between characters).
pub fn title_lines(title: &str, width: u32) -> (u32, Vec<String>) {
    for size in [22, 19, 16] {
        if text_width(title, size) <= width {
            return (size, vec![title.to_string()]);
        }
    }
    let fits = |s: &str| text_width(s, 16) <= width;
    let mut lines: Vec<String> = vec![];
    let mut line = String::new();
    for word in title.split_whitespace() {
        let joined = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if !line.is_empty() && !fits(&format!("{line}{c}")) {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    lines.push(line);
    (16, lines)
}

/// Draw `title` centred at the top of `area`, shrunk or wrapped to fit its width (a caption
/// wider than the area would be cut on both sides), and return the area below it.
fn titled<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let (size, lines) = title_lines(title, w.saturating_sub(20));
    let style = ("sans-serif", size as f64).into_font().into_text_style(area).pos(Pos::new(HPos::Center, VPos::Top));
    let line_h = size as i32 + 4;
    for (i, line) in lines.iter().enumerate() {
        area.draw_text(line, &style, (w as i32 / 2, 12 + line_h * i as i32)).map_err(fail)?;
    }
    Ok(area.split_vertically(12 + line_h * lines.len() as i32 + 6).1)
}

/// The chart of a panel on `area`: its title, the plot area (filled with [`PLOT_BG`]), axes
/// with [`tick_labels`], and the shaded x-ranges.
fn chart_of<'a, DB: DrawingBackend + 'a>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    bottom: u32,
) -> Result<ChartContext<'a, DB, Cartesian2d<Axis, Axis>>>
where
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, y1)) = bounds(p);
    let body = titled(area, &p.title)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .margin_top(0)
        .margin_right(16)
        .margin_bottom(bottom)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(Axis::new(x0, x1, p.log_x, 6), Axis::new(y0, y1, p.log_y, 6))
        .map_err(fail)?;
    chart.plotting_area().fill(&PLOT_BG).map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(228, 228, 228))
        .draw()
        .map_err(fail)?;
    for (s0, s1, _, c) in &p.shade {
        let col = color(*c).mix(0.15);
        chart.draw_series(std::iter::once(Rectangle::new([(*s0, y0), (*s1, y1)], col.filled()))).map_err(fail)?;
    }
    Ok(chart)
}

/// The curves of `p` on its chart, in their styles.
fn draw_curves<DB: DrawingBackend>(chart: &mut ChartContext<'_, DB, Cartesian2d<Axis, Axis>>, p: &Panel) -> Result<()>
where
    DB::ErrorType: 'static,
{
    for c in &p.curves {
        let col = color(c.color);
        let pts: Vec<(f64, f64)> = c.points.iter().cloned().filter(|&q| shown(p, q)).collect();
        match c.style {
            Style::Line | Style::LinePoints | Style::Reference => {
                let width = if c.style == Style::Reference { 1 } else { 2 };
                let pixels: Vec<(i32, i32)> = pts.iter().map(|q| chart.backend_coord(q)).collect();
                for piece in at_sharp_turns(&pixels) {
                    chart.draw_series(LineSeries::new(pts[piece].to_vec(), col.stroke_width(width))).map_err(fail)?;
                }
                if c.style == Style::LinePoints {
                    chart.draw_series(pts.iter().map(|&q| Circle::new(q, 3, col.filled()))).map_err(fail)?;
                }
            }
            Style::Points => {
                chart.draw_series(pts.iter().map(|&q| Circle::new(q, 3, col.filled()))).map_err(fail)?;
            }
            Style::Band => {
                chart.draw_series(std::iter::once(Polygon::new(pts, col.mix(0.18).filled()))).map_err(fail)?;
            }
        }
    }
    Ok(())
}

/// The legend of `p` in its column beside the plot: as many entries as a panel of height `h`
/// holds, the rest said in one line.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel, h: u32) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut entries = legend(p);
    let fit = ((h as i32 - 60) / 20).max(2) as usize;
    if entries.len() > fit {
        let more = entries.len() - (fit - 1);
        entries.truncate(fit - 1);
        entries.push((format!("… and {more} more"), TRANSPARENT.to_rgba(), Style::Points));
    }
    if entries.is_empty() {
        return Ok(());
    }
    let font = ("sans-serif", 16).into_font();
    let (lw, _) = area.dim_in_pixel();
    let (top, bottom) = (44, 44 + 20 * entries.len() as i32 + 8);
    let frame = [(2, top), (lw as i32 - 8, bottom)];
    area.draw(&Rectangle::new(frame, ShapeStyle::from(&WHITE).filled())).map_err(fail)?;
    area.draw(&Rectangle::new(frame, LEGEND_BORDER.stroke_width(1))).map_err(fail)?;
    for (i, (label, col, style)) in entries.iter().enumerate() {
        let y = top + 14 + 20 * i as i32;
        // a line's swatch is a thin bar: in the SVG only data are polylines
        let half = if *style == Style::Points { 5 } else { 1 };
        area.draw(&Rectangle::new([(10, y - half), (26, y + half)], col.filled())).map_err(fail)?;
        let text: String = if label.chars().count() > LEGEND_CHARS {
            label.chars().take(LEGEND_CHARS - 1).chain(std::iter::once('…')).collect()
        } else {
            label.clone()
        };
        area.draw(&Text::new(text, (32, y - 7), font.clone())).map_err(fail)?;
    }
    Ok(())
}

/// One panel on `area`, its legend in a column `legend_w` wide on the right (none when 0).
fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel, legend_w: u32) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let (plot_area, legend_area) = area.split_horizontally(w.saturating_sub(legend_w));
    let total: usize = p.curves.iter().map(|c| c.points.len()).sum();
    let dropped = total - p.curves.iter().map(|c| c.points.iter().filter(|&&q| shown(p, q)).count()).sum::<usize>();
    let mut chart = chart_of(&plot_area, p, if dropped > 0 { 28 } else { 10 })?;
    draw_curves(&mut chart, p)?;
    // values that cannot be drawn are said so, under the x axis
    if dropped > 0 {
        let why = if p.log_x || p.log_y { "not finite or ≤ 0 on a log axis" } else { "not finite" };
        let note = format!("{dropped} of {total} values not shown ({why})");
        let font = ("sans-serif", 15).into_font().color(&RGBColor(120, 120, 120));
        plot_area.draw_text(&note, &font, (8, h as i32 - 20)).map_err(fail)?;
    }
    if legend_w > 0 {
        draw_legend(&legend_area, p, h)?;
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, f: &Figure) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(fail)?;
    let cols = f.cols.max(1);
    let rows = f.panels.len().div_ceil(cols);
    let areas = root.split_evenly((rows, cols));
    let lw = f.legend_width();
    let keep = f.legend_panels();
    for (i, (a, p)) in areas.iter().zip(&f.panels).enumerate() {
        // a panel without its own legend uses the legend column's width for its plot
        draw_panel(a, p, if keep[i] { lw } else { 0 })?;
    }
    root.present().map_err(fail)?;
    Ok(())
}

impl Figure {
    /// Width of the legend column each panel gets (the widest panel legend's).
    fn legend_width(&self) -> u32 {
        self.panels.iter().map(legend_width).max().unwrap_or(0)
    }
    /// Which panels draw their legend: every panel with entries, or only the last of them when
    /// all panels' legends are the same (one legend for a row of curves of the same runs).
    fn legend_panels(&self) -> Vec<bool> {
        let legends: Vec<Vec<(String, RGBAColor, Style)>> = self.panels.iter().map(legend).collect();
        let with: Vec<usize> = (0..legends.len()).filter(|&i| !legends[i].is_empty()).collect();
        let same = with.windows(2).all(|w| {
            let (a, b) = (&legends[w[0]], &legends[w[1]]);
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1 == y.1)
        });
        (0..legends.len()).map(|i| !legends[i].is_empty() && (!same || Some(&i) == with.last())).collect()
    }
    /// Pixel size of the whole figure: each panel plus its legend column.
    pub fn size(&self) -> (u32, u32) {
        let cols = self.cols.max(1) as u32;
        let rows = self.panels.len().div_ceil(self.cols.max(1)) as u32;
        ((self.panel_size.0 + self.legend_width()) * cols, self.panel_size.1 * rows)
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

/// What a heatmap shows: its cells, the x and y ranges they cover, and the colour bar's range
/// (of log10 values when `log`).
struct Heat<'a> {
    title: &'a str,
    labels: (&'a str, &'a str, &'a str),
    cells: Vec<Cell>,
    bounds: ((f64, f64), (f64, f64)),
    bar: (f64, f64, bool),
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
    if xs.is_empty() || ys.len() != z.len() || z.iter().any(|row| row.len() != xs.len()) {
        bail!("a heatmap needs {} rows of {} values (one per x), got {} rows", ys.len(), xs.len(), z.len());
    }
    register_font();
    let tf = |v: f64| if log_z { v.max(1e-300).log10() } else { v };
    let finite: Vec<f64> = z.iter().flatten().map(|&v| tf(v)).filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
    let half = |v: &[f64], i: usize| {
        let d = if v.len() > 1 { (v[1] - v[0]) / 2.0 } else { 0.5 };
        (v[i] - d, v[i] + d)
    };
    let mut cells = vec![];
    for (j, row) in z.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            cells.push((half(xs, i), half(ys, j), ramp((tf(v) - lo) / (hi - lo))));
        }
    }
    let bounds = ((half(xs, 0).0, half(xs, xs.len() - 1).1), (half(ys, 0).0, half(ys, ys.len() - 1).1));
    let heat = Heat { title, labels, cells, bounds, bar: (lo, hi, log_z) };
    let size = (720, 520);
    draw_heat(BitMapBackend::new(&stem.with_extension("png"), size).into_drawing_area(), &heat)?;
    draw_heat(SVGBackend::new(&stem.with_extension("svg"), size).into_drawing_area(), &heat)
}

fn draw_heat<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, h: &Heat) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(fail)?;
    let (main, side) = root.split_horizontally(560);
    let body = titled(&main, h.title)?;
    let ((x0, x1), (y0, y1)) = h.bounds;
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .margin_top(0)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(Axis::new(x0, x1, false, 6), Axis::new(y0, y1, false, 6))
        .map_err(fail)?;
    chart.plotting_area().fill(&PLOT_BG).map_err(fail)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(h.labels.0)
        .y_desc(h.labels.1)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(fail)?;
    let rect = |&((x0, x1), (y0, y1), c): &Cell| Rectangle::new([(x0, y0), (x1, y1)], c.filled());
    chart.draw_series(h.cells.iter().map(rect)).map_err(fail)?;
    chart.draw_series(std::iter::once(Cross::new((0.0, 0.0), 6, WHITE.stroke_width(2)))).map_err(fail)?;
    colour_bar(&side, h)?;
    root.present().map_err(fail)
}

/// The colour bar of a heatmap, with its ticks and what it measures.
fn colour_bar<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &Heat) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (lo, hi, log) = h.bar;
    let mut cb = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(50)
        .margin_right(10)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, Axis::new(lo, hi, false, 6))
        .map_err(fail)?;
    let desc = if log { format!("log10 {}", h.labels.2) } else { h.labels.2.to_string() };
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(desc)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(fail)?;
    let n = 64;
    cb.draw_series((0..n).map(|i| {
        let (a, b) = (lo + (hi - lo) * i as f64 / n as f64, lo + (hi - lo) * (i + 1) as f64 / n as f64);
        Rectangle::new([(0.0, a), (1.0, b)], ramp((i as f64 + 0.5) / n as f64).filled())
    }))
    .map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{at_sharp_turns, linear_ticks, tick_labels};

    /// Each label reads back as its tick: not rounded to the fewest distinct digits (15 → 20),
    /// not float noise (0.1 · 3 → 0.30000000000000004, the centre of -0.3..0.3 → -2.2e-16).
    #[test]
    fn tick_labels_read_as_their_ticks() {
        assert_eq!(tick_labels(&[0.0, 5.0, 10.0, 15.0]), ["0", "5", "10", "15"]);
        assert_eq!(tick_labels(&[0.5, 1.0, 1.5]), ["0.5", "1", "1.5"]);
        assert_eq!(tick_labels(&[1e-3, 1e-2, 1e-1]), ["1e-3", "0.01", "0.1"]);
        assert_eq!(tick_labels(&[0.1, 0.1 * 2.0, 0.1 * 3.0]), ["0.1", "0.2", "0.3"]);
        assert_eq!(tick_labels(&[-0.1, -0.3 + 0.1 * 3.0, 0.1]), ["-0.1", "0", "0.1"]);
        assert_eq!(tick_labels(&[0.6995, 0.7, 0.7005]), ["0.6995", "0.7", "0.7005"]);
        assert_eq!(tick_labels(&[2.5e-3]), ["2.5e-3"]);
        assert_eq!(tick_labels(&linear_ticks(-0.35, 0.35, 6)), ["-0.2", "0", "0.2"]);
    }

    /// A spike (up and straight back down) is cut at its tip; a gentle bend and a straight line
    /// are not; every point stays in a piece, neighbours share their joint.
    #[test]
    fn cuts_at_sharp_turns_only() {
        assert_eq!(at_sharp_turns(&[(0, 100), (1, 0), (2, 100), (3, 100)]), vec![0..2, 1..4]);
        assert_eq!(at_sharp_turns(&[(0, 0), (10, 5), (20, 0), (30, 5)]), vec![0..4]);
        assert_eq!(at_sharp_turns(&[(0, 0), (1, 0)]), vec![0..2]);
        assert_eq!(at_sharp_turns(&[]), vec![0..0]);
        // a tip drawn twice on the same pixel is still a turn
        assert_eq!(at_sharp_turns(&[(0, 100), (1, 0), (1, 0), (2, 100)]), vec![0..2, 1..4]);
    }
}
