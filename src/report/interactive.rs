//! Interactive HTML of a row/grid of [`Panel`]s with the `plotly` crate: one plotly.js chart per
//! panel (zoom, pan, hover with the values), the library embedded so the file opens offline.

use super::figures::{Panel, Style, color};
use super::html::esc;
use plotly::common::{Fill, HoverInfo, Line, Mode, Title};
use plotly::layout::{Axis, AxisType, Layout, Margin};
use plotly::{Plot, Scatter};

fn css(i: usize, alpha: f64) -> String {
    let c = color(i);
    format!("rgba({},{},{},{alpha})", c.0, c.1, c.2)
}

/// Characters per line of a chart's title: about what 640 px hold at plotly's 17 px title font.
const TITLE_CHARS: usize = 60;

/// `text` cut into lines of at most `n` characters at spaces (a longer word on a line of its
/// own), so a long title wraps instead of running off both sides of the chart.
fn wrap(text: &str, n: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= n => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// One panel as a plotly chart.
pub fn chart(p: &Panel) -> Plot {
    let mut plot = Plot::new();
    for c in &p.curves {
        let ok =
            |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!p.log_x || x > 0.0) && (!p.log_y || y > 0.0);
        let pts: Vec<(f64, f64)> = c.points.iter().cloned().filter(ok).collect();
        let (xs, ys): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        let t = Scatter::new(xs, ys);
        let t = match c.style {
            Style::Band => t
                .mode(Mode::Lines)
                .fill(Fill::ToSelf)
                .fill_color(css(c.color, 0.18))
                .line(Line::new().width(0.0).color(css(c.color, 0.0)))
                .hover_info(HoverInfo::Skip)
                .show_legend(false),
            Style::Points => {
                t.mode(Mode::Markers).marker(plotly::common::Marker::new().color(css(c.color, 1.0)).size(7))
            }
            Style::LinePoints => t.mode(Mode::LinesMarkers).line(Line::new().color(css(c.color, 1.0)).width(2.0)),
            Style::Line | Style::Reference => t
                .mode(Mode::Lines)
                .line(Line::new().color(css(c.color, 1.0)).width(if c.style == Style::Line { 2.0 } else { 1.0 })),
        };
        let t = if c.label.is_empty() { t.show_legend(false) } else { t.name(&c.label) };
        plot.add_trace(t);
    }
    let axis = |label: &str, log: bool| {
        let a = Axis::new().title(Title::with_text(label)).show_grid(true).zero_line(false);
        if log { a.type_(AxisType::Log).exponent_format(plotly::common::ExponentFormat::SmallE) } else { a }
    };
    let title = wrap(&p.title, TITLE_CHARS);
    let lines = title.len().max(1);
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title.join("<br>")))
            .x_axis(axis(&p.x_label, p.log_x))
            .y_axis(axis(&p.y_label, p.log_y))
            .width(640)
            .height(400 + 20 * lines)
            .margin(Margin::new().left(70).right(20).top(30 + 20 * lines).bottom(50))
            .hover_mode(plotly::layout::HoverMode::Closest),
    );
    plot
}

/// A self-contained HTML page with one interactive chart per panel, `cols` per row.
pub fn page(title: &str, panels: &[Panel], cols: usize) -> String {
    let mut h = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title>{js}<style>body{{font-family:sans-serif;margin:1em}}\
         .grid{{display:grid;grid-template-columns:repeat({cols},640px);gap:12px}}</style></head><body><h2>{t}</h2>\
         <p>silab {v}: drag to zoom, double-click to reset, hover for values; click a legend entry to hide a curve.</p><div class=\"grid\">",
        t = esc(title),
        js = Plot::offline_js_sources(),
        cols = cols.max(1),
        v = env!("CARGO_PKG_VERSION"),
    );
    for (i, p) in panels.iter().enumerate() {
        h += &format!("<div>{}</div>", chart(p).to_inline_html(Some(&format!("panel{i}"))));
    }
    h += "</div></body></html>";
    h
}

#[cfg(test)]
mod tests {
    use super::wrap;

    /// Lines at most `n` long, words kept whole and in order; a word longer than a line alone.
    #[test]
    fn titles_wrap_at_spaces() {
        assert_eq!(wrap("train loss", 60), ["train loss"]);
        assert_eq!(wrap("aaa bbb ccc dd", 7), ["aaa bbb", "ccc dd"]);
        assert_eq!(wrap("a verylongword b", 5), ["a", "verylongword", "b"]);
        let t = "final train loss against the effective learning rate, seeds averaged, regimes shaded";
        let lines = wrap(t, 60);
        assert!(lines.len() == 2 && lines.iter().all(|l| l.chars().count() <= 60), "{lines:?}");
        assert_eq!(lines.join(" "), t);
    }
}
