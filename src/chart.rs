//! Charts as SVG, written by hand, and the HTML page that holds them: the run report
//! (`report.html`) and the delivery figures (`deployc history --stats --html`).
//!
//! Hand-written rather than a chart crate: the charts are few and simple (lines over time
//! with bands, reference lines and markers; a Gantt of steps; stacked bars per week), and
//! writing them here keeps every text escaped in one place, the SVG scalable for print
//! (`viewBox`, no fixed pixel size) and the build free of a plotting stack.
//!
//! Everything is a pure function from data to text; the page needs no script and fetches
//! nothing: colours are presentation attributes, so a chart reads the same wherever it is
//! pasted, and the page's stylesheet is inline.

use std::fmt::Write;

/// Escapes text for HTML and SVG content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (a captured command's output) would make the page invalid.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The colours of the charts (colour-blind safe, and distinct in grey when printed).
pub(crate) mod colour {
    pub(crate) const NEW: &str = "#d95f02";
    pub(crate) const STABLE: &str = "#1b7cb3";
    pub(crate) const THRESHOLD: &str = "#7a3db8";
    pub(crate) const BREACH: &str = "#c4122f";
    pub(crate) const ROLLBACK_BAND: &str = "#f6d5d9";
    pub(crate) const BAND: &str = "#eef1f5";
    pub(crate) const BAND_ALT: &str = "#e2e7ee";
    pub(crate) const ESTIMATE: &str = "#b8c2cc";
    pub(crate) const ACTUAL: &str = "#2f6f4f";
    pub(crate) const FAILED: &str = "#c4122f";
    pub(crate) const SUCCEEDED: &str = "#2f8f5b";
    pub(crate) const ABORTED: &str = "#9aa3ad";
    pub(crate) const AXIS: &str = "#4a4f55";
    pub(crate) const GRID: &str = "#d9dde2";
}

/// The whole page: a title, the body (already HTML), and a stylesheet for screen and print.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

const STYLE: &str = "body { font-family: system-ui, -apple-system, \"Segoe UI\", sans-serif; color: #1d2125; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #d9dde2; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-bottom: 0.3rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #e5e8eb; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, \"SFMono-Regular\", Menlo, monospace; font-size: 0.88em; }
figure { margin: 1rem 0; }
figcaption { font-size: 0.85rem; color: #4a4f55; }
svg { width: 100%; height: auto; display: block; }
svg text { font-family: system-ui, sans-serif; }
.outcome { font-weight: 600; }
.outcome-succeeded { color: #2f8f5b; }
.outcome-rolled_back, .outcome-rollback_incomplete, .failed { color: #c4122f; }
.empty { color: #4a4f55; font-style: italic; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure, table, tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
";

/// A number for an axis or a table: no more decimals than it needs.
pub(crate) fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Ticks for a value axis from 0 (or `lo`) to at least `hi`: steps of 1, 2 or 5 × 10ⁿ,
/// about five of them. Returns the axis end and the ticks.
fn value_ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut t = start;
    // Bounded: at most a dozen ticks by construction; the cap guards float surprises.
    while t <= end + step / 2.0 && ticks.len() < 20 {
        ticks.push(t);
        t += step;
    }
    (start, end.max(start + step), ticks)
}

/// Ticks for a time axis in seconds: steps a person counts in (5 s, 30 s, 1 min, 15 min,
/// 1 h, 1 day…), about six of them.
fn time_ticks(lo: f64, hi: f64) -> (f64, Vec<f64>) {
    // A real canary that fails at its first evaluation spans a second or less: hundredths
    // and tenths then.
    const STEPS: [f64; 21] = [
        0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0,
        1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0,
    ];
    let span = (hi - lo).max(0.05);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 8.0)
        .unwrap_or_else(|| (span / 8.0 / 86400.0).ceil() * 86400.0);
    let first = (lo / step).ceil();
    let ticks = (0..20)
        .map(|i| (first + f64::from(i)) * step)
        .take_while(|t| *t <= hi + step * 1e-6)
        .collect();
    (step, ticks)
}

/// The label of a time tick: whole seconds, or as many decimals as the ticks' `step` needs.
fn tick_label(secs: f64, step: f64) -> String {
    let sign = if secs < 0.0 { "-" } else { "+" };
    if step < 0.1 {
        format!("T{sign}{:.2}s", secs.abs())
    } else if step < 1.0 {
        format!("T{sign}{:.1}s", secs.abs())
    } else {
        offset_label(secs)
    }
}

/// An offset from T-0 in seconds, as the progress lines write it: `T+1m30s`, `T-10s`.
pub(crate) fn offset_label(secs: f64) -> String {
    let sign = if secs < 0.0 { "-" } else { "+" };
    let ms = (secs.abs() * 1000.0).round();
    // Whole seconds: axis ticks and table cells do not need milliseconds.
    let ms = if ms >= 1000.0 {
        (ms / 1000.0).floor() * 1000.0
    } else {
        ms
    };
    format!("T{sign}{}", crate::lower::fmt_ms(ms as u64))
}

/// A line of a [`LineChart`]: `None` values are gaps (no data).
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) colour: &'static str,
    /// (seconds from T-0, value).
    pub(crate) points: Vec<(f64, Option<f64>)>,
}

/// A horizontal reference line (a threshold).
pub(crate) struct Reference {
    pub(crate) label: String,
    pub(crate) value: f64,
}

/// A shaded span of time (a step's traffic weight, the rollback).
pub(crate) struct Band {
    pub(crate) from: f64,
    pub(crate) to: f64,
    pub(crate) label: String,
    pub(crate) rollback: bool,
}

/// A vertical mark at a moment (the breach, the rollback).
pub(crate) struct Marker {
    pub(crate) at: f64,
    pub(crate) label: String,
}

/// A metric over time.
pub(crate) struct LineChart {
    pub(crate) title: String,
    pub(crate) y_label: String,
    pub(crate) series: Vec<Series>,
    pub(crate) references: Vec<Reference>,
    pub(crate) bands: Vec<Band>,
    pub(crate) markers: Vec<Marker>,
}

const W: f64 = 760.0;
const INSET: f64 = 6.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 744.0;

/// Maps `v` from `[a, b]` to `[c, d]`.
fn scale(v: f64, a: f64, b: f64, c: f64, d: f64) -> f64 {
    if (b - a).abs() < f64::EPSILON {
        return c;
    }
    c + (v - a) / (b - a) * (d - c)
}

impl LineChart {
    /// Whether any series has a value: a chart without one is not drawn.
    pub(crate) fn has_data(&self) -> bool {
        self.series
            .iter()
            .any(|s| s.points.iter().any(|(_, v)| v.is_some()))
    }

    pub(crate) fn svg(&self) -> String {
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 250.0;
        const H: f64 = 292.0;
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(self.bands.iter().flat_map(|b| [b.from, b.to]))
            .chain(self.markers.iter().map(|m| m.at));
        let (x0, x1) = bounds(xs);
        let data: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.1))
            .filter(|v| v.is_finite())
            .collect();
        let data_max = data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // A threshold far above the data (200 ms over readings of 1 ms) would flatten the
        // lines against the axis: it is named at the top edge instead of drawn to scale.
        let off_scale = |r: &&Reference| data_max > 0.0 && r.value > data_max * 4.0;
        let values = data.iter().copied().chain(
            self.references
                .iter()
                .filter(|r| !off_scale(r))
                .map(|r| r.value),
        );
        let (vmin, vmax) = bounds(values);
        let lo = vmin.min(0.0);
        let hi = if vmax > lo { vmax * 1.08 } else { lo + 1.0 };
        let (y0, y1, yticks) = value_ticks(lo, hi);
        // The data is inset from the frame: a reading of 0, or the first one, drawn on the
        // frame's own line would be lost in it.
        let x = |v: f64| scale(v, x0, x1, LEFT + INSET, RIGHT - INSET);
        let y = |v: f64| scale(v, y0, y1, BOTTOM - INSET, TOP + INSET);
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
            escape(&self.title)
        );
        let _ = write!(s, "<title>{}</title>", escape(&self.title));
        // The plot area, then the bands behind everything drawn on it.
        let _ = write!(
            s,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" stroke=\"{}\"/>",
            RIGHT - LEFT,
            BOTTOM - TOP,
            colour::GRID
        );
        for (i, b) in self.bands.iter().enumerate() {
            let (bx0, bx1) = (x(b.from), x(b.to).max(x(b.from) + 1.0));
            let fill = if b.rollback {
                colour::ROLLBACK_BAND
            } else if i % 2 == 0 {
                colour::BAND
            } else {
                colour::BAND_ALT
            };
            let _ = write!(
                s,
                "<rect x=\"{bx0:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{}\" fill=\"{fill}\"><title>{}</title></rect>",
                bx1 - bx0,
                BOTTOM - TOP,
                escape(&b.label)
            );
            // The label only where it fits.
            if bx1 - bx0 >= 7.0 * b.label.chars().count() as f64 {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
                    (bx0 + bx1) / 2.0,
                    TOP + 13.0,
                    colour::AXIS,
                    escape(&b.label)
                );
            }
        }
        for t in &yticks {
            let ty = y(*t);
            let _ = write!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{RIGHT}\" y2=\"{ty:.1}\" stroke=\"{}\" stroke-width=\"0.5\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"{}\">{}</text>",
                colour::GRID,
                LEFT - 6.0,
                ty + 4.0,
                colour::AXIS,
                escape(&number(*t))
            );
        }
        let (step, xticks) = time_ticks(x0, x1);
        for t in xticks.iter().copied() {
            let tx = x(t);
            let _ = write!(
                s,
                "<line x1=\"{tx:.1}\" y1=\"{BOTTOM}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"{}\"/><text x=\"{tx:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
                BOTTOM + 4.0,
                colour::AXIS,
                BOTTOM + 17.0,
                colour::AXIS,
                escape(&tick_label(t, step))
            );
        }
        let mut above = 0.0;
        for r in self.references.iter().filter(|r| off_scale(r)) {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"{}\">▲ {} (above the scale)</text>",
                RIGHT - 4.0,
                TOP - 5.0 - above,
                colour::THRESHOLD,
                escape(&r.label)
            );
            above += 13.0;
        }
        // Labels of lines close together go to the right, the left, then the middle, so
        // that they do not write over each other.
        let mut placed: Vec<(f64, usize)> = Vec::new();
        for r in self.references.iter().filter(|r| !off_scale(r)) {
            // On whole pixels: a dashed line between two rows of pixels prints grey.
            let ry = y(r.value).round();
            let slot = (0..3)
                .find(|k| {
                    !placed
                        .iter()
                        .any(|(py, pk)| pk == k && (py - ry).abs() < 13.0)
                })
                .unwrap_or(0);
            placed.push((ry, slot));
            let (lx, anchor) = match slot {
                0 => (RIGHT - 4.0, "end"),
                1 => (LEFT + 4.0, "start"),
                _ => ((LEFT + RIGHT) / 2.0, "middle"),
            };
            let _ = write!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{ry:.1}\" x2=\"{RIGHT}\" y2=\"{ry:.1}\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"{}\">{}</text>",
                colour::THRESHOLD,
                ry - 4.0,
                colour::THRESHOLD,
                escape(&r.label)
            );
        }
        for (i, m) in self.markers.iter().enumerate() {
            // On whole pixels, like the thresholds.
            let mx = x(m.at).round();
            // Labels of marks close in time are stacked, not drawn over each other; a label
            // too near the right edge is written leftwards.
            let (lx, anchor) = if mx > RIGHT - 180.0 {
                (mx - 3.0, "end")
            } else {
                (mx + 3.0, "start")
            };
            let _ = write!(
                s,
                "<line x1=\"{mx:.1}\" y1=\"{TOP}\" x2=\"{mx:.1}\" y2=\"{BOTTOM}\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{lx:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"{}\">{}</text>",
                colour::BREACH,
                TOP + 28.0 + 13.0 * (i % 4) as f64,
                colour::BREACH,
                escape(&m.label)
            );
        }
        // The data last, over the marks: a reading at the moment of the breach stays seen.
        for series in &self.series {
            for run in segments(&series.points) {
                let (Some(first), Some(last)) = (run.first(), run.last()) else {
                    continue;
                };
                // Readings all at one moment (a virtual clock that did not move) are dots: a
                // line of no length draws nothing.
                if (x(last.0) - x(first.0)).abs() < 1.0 {
                    for (px, py) in &run {
                        let _ = write!(
                            s,
                            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\"/>",
                            x(*px),
                            y(*py),
                            series.colour
                        );
                    }
                    continue;
                }
                let mut d = String::new();
                for (px, py) in &run {
                    let _ = write!(d, "{:.1},{:.1} ", x(*px), y(*py));
                }
                // A few readings are each marked too: a short line alone is easily missed.
                if run.len() <= 12 {
                    for (px, py) in &run {
                        let _ = write!(
                            s,
                            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                            x(*px),
                            y(*py),
                            series.colour
                        );
                    }
                }
                let _ = write!(
                    s,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>",
                    d.trim_end(),
                    series.colour
                );
            }
        }
        // Axis titles with their units, and the legend above the plot.
        let _ = write!(
            s,
            "<text x=\"14\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\" fill=\"{}\">{}</text>",
            (TOP + BOTTOM) / 2.0,
            (TOP + BOTTOM) / 2.0,
            colour::AXIS,
            escape(&self.y_label)
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{}\">time from T-0 (h, min, s)</text>",
            (LEFT + RIGHT) / 2.0,
            H - 4.0,
            colour::AXIS
        );
        let mut lx = LEFT;
        let legend = self
            .series
            .iter()
            .map(|s| (s.label.as_str(), s.colour, false))
            .chain((!self.references.is_empty()).then_some(("threshold", colour::THRESHOLD, true)));
        for (label, c, dashed) in legend {
            let _ = write!(
                s,
                "<line x1=\"{lx}\" y1=\"16\" x2=\"{}\" y2=\"16\" stroke=\"{c}\" stroke-width=\"2.5\"{}/><text x=\"{}\" y=\"20\" font-size=\"12\" fill=\"{}\">{}</text>",
                lx + 22.0,
                if dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                },
                lx + 27.0,
                colour::AXIS,
                escape(label)
            );
            lx += 40.0 + 7.0 * label.chars().count() as f64;
        }
        s.push_str("</svg>");
        s
    }
}

/// The smallest and largest of finite values, or (0, 1) without any; equal ends are widened
/// so that nothing divides by zero.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo, lo + 1.0);
    }
    (lo, hi)
}

/// The runs of consecutive points with a value: a gap in the data is a gap in the line.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (x, v) in points {
        match v {
            Some(v) if v.is_finite() => current.push((*x, *v)),
            _ => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// One row of a [`Gantt`]: a step, where the plan expected it and where it ran.
pub(crate) struct GanttRow {
    pub(crate) label: String,
    /// (start, length) in seconds from T-0.
    pub(crate) planned: (f64, f64),
    /// (start, length) in seconds from T-0; the length is `None` for a step that never ended.
    pub(crate) actual: Option<(f64, Option<f64>)>,
    pub(crate) failed: bool,
}

/// The steps as bars against the plan's estimates.
pub(crate) fn gantt(title: &str, rows: &[GanttRow]) -> String {
    const LABEL_W: f64 = 250.0;
    const ROW: f64 = 20.0;
    const TOP: f64 = 30.0;
    let bottom = TOP + ROW * rows.len().max(1) as f64;
    let h = bottom + 40.0;
    let ends = rows.iter().flat_map(|r| {
        let actual = r
            .actual
            .map(|(a, l)| [a, a + l.unwrap_or(0.0)])
            .unwrap_or([r.planned.0, r.planned.0]);
        [r.planned.0, r.planned.0 + r.planned.1, actual[0], actual[1]]
    });
    let (x0, x1) = bounds(ends);
    let x = |v: f64| scale(v, x0, x1, LABEL_W, RIGHT);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        escape(title),
        escape(title)
    );
    let _ = write!(
        s,
        "<rect x=\"{LABEL_W}\" y=\"{}\" width=\"16\" height=\"8\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{}\">plan estimate</text><rect x=\"{}\" y=\"{}\" width=\"16\" height=\"8\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{}\">as run</text><rect x=\"{}\" y=\"{}\" width=\"16\" height=\"8\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{}\">failed</text>",
        8.0,
        colour::ESTIMATE,
        LABEL_W + 21.0,
        16.0,
        colour::AXIS,
        LABEL_W + 130.0,
        8.0,
        colour::ACTUAL,
        LABEL_W + 151.0,
        16.0,
        colour::AXIS,
        LABEL_W + 230.0,
        8.0,
        colour::FAILED,
        LABEL_W + 251.0,
        16.0,
        colour::AXIS,
    );
    let (step, xticks) = time_ticks(x0, x1);
    for t in xticks.iter().copied() {
        let tx = x(t);
        let _ = write!(
            s,
            "<line x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{bottom}\" stroke=\"{}\" stroke-width=\"0.5\"/><text x=\"{tx:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
            colour::GRID,
            bottom + 15.0,
            colour::AXIS,
            escape(&tick_label(t, step))
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let ry = TOP + ROW * i as f64;
        let label: String = if r.label.chars().count() > 38 {
            r.label.chars().take(37).chain(['…']).collect()
        } else {
            r.label.clone()
        };
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"11\" fill=\"{}\">{}<title>{}</title></text>",
            ry + 14.0,
            colour::AXIS,
            escape(&label),
            escape(&r.label)
        );
        let (px0, px1) = (x(r.planned.0), x(r.planned.0 + r.planned.1));
        let _ = write!(
            s,
            "<rect x=\"{px0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"7\" fill=\"{}\"/>",
            ry + 3.0,
            (px1 - px0).max(1.5),
            colour::ESTIMATE
        );
        if let Some((start, len)) = r.actual {
            let ax0 = x(start);
            let ax1 = x(start + len.unwrap_or(0.0));
            let fill = if r.failed {
                colour::FAILED
            } else {
                colour::ACTUAL
            };
            let _ = write!(
                s,
                "<rect x=\"{ax0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\" fill=\"{fill}\"/>",
                ry + 10.0,
                (ax1 - ax0).max(1.5)
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{}\">time from T-0 (h, min, s)</text></svg>",
        (LABEL_W + RIGHT) / 2.0,
        h - 4.0,
        colour::AXIS
    );
    s
}

/// One group of stacked bars (an ISO week).
pub(crate) struct BarGroup {
    pub(crate) label: String,
    /// (series index, value) stacked from the bottom.
    pub(crate) values: Vec<f64>,
}

/// Stacked bars per group, with a legend naming each series and its colour.
pub(crate) fn stacked_bars(
    title: &str,
    y_label: &str,
    series: &[(&str, &'static str)],
    groups: &[BarGroup],
) -> String {
    const TOP: f64 = 36.0;
    const BOTTOM: f64 = 230.0;
    const H: f64 = 272.0;
    let max = groups
        .iter()
        .map(|g| g.values.iter().sum::<f64>())
        .fold(0.0, f64::max);
    // Runs are counted in whole numbers: a small count gets a tick per run, not halves.
    let (y0, y1, yticks) = if max <= 6.0 {
        let top = max.max(1.0).ceil();
        (0.0, top, (0..=top as u32).map(f64::from).collect())
    } else {
        value_ticks(0.0, max)
    };
    let y = |v: f64| scale(v, y0, y1, BOTTOM, TOP);
    let slot = (RIGHT - LEFT) / groups.len().max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        escape(title),
        escape(title)
    );
    for t in &yticks {
        let ty = y(*t);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{RIGHT}\" y2=\"{ty:.1}\" stroke=\"{}\" stroke-width=\"0.5\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"{}\">{}</text>",
            colour::GRID,
            LEFT - 6.0,
            ty + 4.0,
            colour::AXIS,
            escape(&number(*t))
        );
    }
    for (i, g) in groups.iter().enumerate() {
        let gx = LEFT + slot * i as f64;
        let bw = (slot * 0.6).min(60.0);
        let bx = gx + (slot - bw) / 2.0;
        let mut base = 0.0;
        for (v, (name, c)) in g.values.iter().zip(series.iter()) {
            if *v > 0.0 {
                let (top, bottom) = (y(base + v), y(base));
                let _ = write!(
                    s,
                    "<rect x=\"{bx:.1}\" y=\"{top:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{c}\"><title>{}: {} {}</title></rect>",
                    bottom - top,
                    escape(&g.label),
                    escape(&number(*v)),
                    escape(name)
                );
            }
            base += v;
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
            gx + slot / 2.0,
            BOTTOM + 16.0,
            colour::AXIS,
            escape(&g.label)
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{RIGHT}\" y2=\"{BOTTOM}\" stroke=\"{}\"/>",
        colour::AXIS
    );
    let _ = write!(
        s,
        "<text x=\"14\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\" fill=\"{}\">{}</text><text x=\"{:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{}\">ISO week (the week a run ended)</text>",
        (TOP + BOTTOM) / 2.0,
        (TOP + BOTTOM) / 2.0,
        colour::AXIS,
        escape(y_label),
        (LEFT + RIGHT) / 2.0,
        H - 4.0,
        colour::AXIS
    );
    let mut lx = LEFT;
    for (name, c) in series {
        let _ = write!(
            s,
            "<rect x=\"{lx}\" y=\"8\" width=\"14\" height=\"12\" fill=\"{c}\"/><text x=\"{}\" y=\"19\" font-size=\"12\" fill=\"{}\">{}</text>",
            lx + 19.0,
            colour::AXIS,
            escape(name)
        );
        lx += 36.0 + 7.0 * name.chars().count() as f64;
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_escaped() {
        assert_eq!(
            escape("<b a=\"1\">&'x'\u{7}"),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;x&#39;\u{fffd}"
        );
        let chart = LineChart {
            title: "<script>alert(1)</script>".into(),
            y_label: "a & b".into(),
            series: vec![Series {
                label: "new</text>".into(),
                colour: colour::NEW,
                points: vec![(0.0, Some(1.0)), (1.0, Some(2.0))],
            }],
            references: vec![Reference {
                label: "< 1%".into(),
                value: 1.0,
            }],
            bands: vec![Band {
                from: 0.0,
                to: 1.0,
                label: "\"10%\"".into(),
                rollback: false,
            }],
            markers: vec![Marker {
                at: 0.5,
                label: "<breach>".into(),
            }],
        };
        let svg = chart.svg();
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("new</text>"));
        assert!(!svg.contains("<breach>"));
        assert!(svg.contains("&lt; 1%"));
    }

    #[test]
    fn ticks_are_round_and_cover_the_values() {
        let (lo, hi, ticks) = value_ticks(0.0, 31.4);
        assert_eq!((lo, hi), (0.0, 40.0));
        assert_eq!(ticks, vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        let (_, hi, _) = value_ticks(0.0, 108.0);
        assert_eq!(hi, 120.0);
        // A run that fails within a second still has ticks, in tenths.
        let (step, fine) = time_ticks(4.23, 4.81);
        assert_eq!(fine.len(), 6, "{fine:?}");
        assert_eq!(tick_label(fine[0], step), "T+4.3s");
        let (step, finer) = time_ticks(1.62, 1.77);
        assert_eq!(finer.len(), 3, "{finer:?}");
        assert_eq!(tick_label(finer[0], step), "T+1.65s");
        assert_eq!(
            time_ticks(0.0, 75.0).1,
            vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
        );
        assert_eq!(offset_label(90.4), "T+1m30s");
        assert_eq!(offset_label(-10.0), "T-10s");
        assert_eq!(number(0.452), "0.452");
        assert_eq!(number(115.98), "116");
        assert_eq!(number(5.0), "5");
    }

    #[test]
    fn gaps_split_the_line_and_empty_charts_say_so() {
        let pts = [
            (0.0, Some(1.0)),
            (1.0, None),
            (2.0, Some(2.0)),
            (3.0, Some(3.0)),
        ];
        assert_eq!(
            segments(&pts),
            vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]
        );
        let chart = LineChart {
            title: String::new(),
            y_label: String::new(),
            series: vec![Series {
                label: "new".into(),
                colour: colour::NEW,
                points: vec![(0.0, None)],
            }],
            references: Vec::new(),
            bands: Vec::new(),
            markers: Vec::new(),
        };
        assert!(!chart.has_data());
        // Degenerate ranges draw without dividing by zero.
        assert!(!chart.svg().contains("NaN"));
    }
}
