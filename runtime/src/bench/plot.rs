//! The comparison plot of `proxyrt bench`: one SVG file that shows, for each
//! build, every replayed round as a dot plus a Tukey box plot, for wall time
//! and guest time side by side.
//!
//! Why SVG through `plotters`' SVG backend only: it writes `<text>` elements
//! and lets the viewer lay out the glyphs, so no font library (fontconfig,
//! freetype) is needed on the machine that runs the benchmark. The price is
//! that text widths are only estimated here; every layout decision below
//! leaves slack for that.

use std::path::Path;

use anyhow::{bail, Context};
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One build's samples, as the plot shows them.
pub struct PlotBuild<'a> {
    /// The build's label, e.g. its file name "cli.wasm" (may be long: shorten with an ellipsis if needed).
    pub label: &'a str,
    /// Wall time of each replayed round, in milliseconds (order = round order; 2 to ~10_000 values).
    pub wall_ms: &'a [f64],
    /// Guest time of each round (wall time minus the time the host spent answering calls), in ms.
    pub guest_ms: &'a [f64],
}

/// Picture height in pixels: small enough to sit in a browser tab without
/// scrolling, tall enough that a few percent between medians is visible.
const HEIGHT: u32 = 500;

/// Picture width in pixels: 1000 for one or two builds, then wider by one
/// column's worth per build, so that each column keeps room for its dots,
/// its box and its median label side by side instead of overlapping.
fn width_for(builds: usize) -> u32 {
    let extra = builds.saturating_sub(2).min(12) as u32;
    1000 + 150 * extra
}

/// Height of the band that holds the title and the caption above the panels.
const HEADER: u32 = 70;

/// The font family written into the SVG; every viewer resolves it to some
/// installed sans-serif face, so nothing has to be embedded.
const FONT: &str = "sans-serif";

/// `plotters`' SVG backend writes `font-size = size / 1.24`; this turns a
/// wanted on-screen size in px into the size to ask `plotters` for, so the
/// constants below read as what a person sees.
fn font_px(px: f64) -> f64 {
    px * 1.24
}

/// Rough advance width of one character, as a fraction of the font size, for
/// a typical sans-serif face. Used only to decide when to shorten labels, so
/// it errs on the wide side.
const CHAR_WIDTH_EM: f64 = 0.58;

/// Colors per build, in order: saturated enough to tell apart as
/// semi-transparent dots and dark enough to be readable as text on white.
/// Blue and orange come first because most plots have two builds and that
/// pair stays distinct under the common color-vision deficiencies; beyond
/// two, the x-axis labels (drawn in the same colors) name every column.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x5f, 0xbf), // blue
    RGBColor(0xd9, 0x5f, 0x0e), // orange
    RGBColor(0x1a, 0x8a, 0x4a), // green
    RGBColor(0x8e, 0x3f, 0xb0), // purple
    RGBColor(0xb0, 0x30, 0x60), // crimson
    RGBColor(0x4d, 0x6b, 0x7a), // slate
];

/// Color of secondary text (caption, notes): clearly subordinate to the
/// black title but still well above WCAG contrast on white.
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// The build's color; builds past the palette reuse it, which is still
/// readable because the x axis names every column.
fn color_of(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// A darker shade of `c` for text and median lines, so that they stand out
/// against the same build's semi-transparent dots.
fn darker(c: RGBColor) -> RGBColor {
    let f = |v: u8| (f64::from(v) * 0.7).round() as u8;
    RGBColor(f(c.0), f(c.1), f(c.2))
}

/// Draws the builds' distributions side by side into an SVG file at `path`: `builds[0]` is the baseline.
pub fn write_svg(path: &Path, title: &str, builds: &[PlotBuild<'_>]) -> anyhow::Result<()> {
    validate(builds)?;
    let wall: Vec<Summary> = builds.iter().map(|b| Summary::of(b.wall_ms)).collect();
    let guest: Vec<Summary> = builds.iter().map(|b| Summary::of(b.guest_ms)).collect();
    let wall_range = y_range(&wall).context("wall time")?;
    let guest_range = y_range(&guest).context("guest time")?;

    // Drawn into memory first, then written in one go: the SVG backend's own
    // file writing would report a missing directory only as a bare io error
    // (or, when dropped, not at all), while here it gets the path as context.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width_for(builds.len()), HEIGHT))
            .into_drawing_area();
        draw(
            &root,
            title,
            builds,
            (&wall, wall_range),
            (&guest, guest_range),
        )
        .context("drawing the benchmark plot")?;
        root.present().context("finishing the benchmark plot")?;
    }
    std::fs::write(path, svg)
        .with_context(|| format!("writing the benchmark plot to {}", path.display()))?;
    Ok(())
}

/// Rejects what cannot be drawn honestly, before any drawing starts: a plot
/// with a silently dropped NaN or an empty column would mislead more than an
/// error does.
fn validate(builds: &[PlotBuild<'_>]) -> anyhow::Result<()> {
    if builds.is_empty() {
        bail!("no builds to plot");
    }
    for (i, b) in builds.iter().enumerate() {
        for (what, samples) in [("wall", b.wall_ms), ("guest", b.guest_ms)] {
            if samples.is_empty() {
                bail!("build #{} ({}) has no {what} time samples", i + 1, b.label);
            }
            if let Some((round, v)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                bail!(
                    "build #{} ({}) has a non-finite {what} time ({v}) in round {}",
                    i + 1,
                    b.label,
                    round + 1
                );
            }
        }
    }
    Ok(())
}

/// Tukey's five numbers of one build's samples, computed once so that the
/// box, the whiskers and the median label agree.
struct Summary {
    /// The samples in round order: the jitter is a function of the round index,
    /// so the same trace always draws the same picture.
    samples: Vec<f64>,
    q1: f64,
    median: f64,
    q3: f64,
    /// The most extreme samples within 1.5 IQR of the box (Tukey whiskers).
    whisker_lo: f64,
    whisker_hi: f64,
}

impl Summary {
    /// Assumes `samples` is non-empty and finite (checked by [`validate`]).
    fn of(samples: &[f64]) -> Summary {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let q1 = quantile(&sorted, 0.25);
        let median = quantile(&sorted, 0.5);
        let q3 = quantile(&sorted, 0.75);
        let iqr = q3 - q1;
        let (fence_lo, fence_hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
        // The quartiles lie within the data, so some sample is always inside
        // the fences; the fallbacks only keep this total.
        let whisker_lo = sorted
            .iter()
            .copied()
            .find(|&v| v >= fence_lo)
            .unwrap_or(q1);
        let whisker_hi = sorted
            .iter()
            .rev()
            .copied()
            .find(|&v| v <= fence_hi)
            .unwrap_or(q3);
        Summary {
            samples: samples.to_vec(),
            q1,
            median,
            q3,
            whisker_lo,
            whisker_hi,
        }
    }

    fn min(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Linear-interpolation quantile (R's type 7, numpy's default), so the
/// numbers match what someone recomputes from the raw samples in a notebook.
/// `sorted` must be non-empty and sorted.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(&first) = sorted.first() else {
        return f64::NAN;
    };
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (
        sorted.get(lo).copied().unwrap_or(first),
        sorted.get(hi).copied().unwrap_or(first),
    );
    a + (b - a) * (pos - lo as f64)
}

/// The y range of one panel. Starts at 0 when the data are within a factor of
/// two of it, so bar-like "twice as tall = twice as slow" reading holds;
/// otherwise zooms in near the minimum, because a 2 % difference between
/// builds drawn from 0 would be invisible.
fn y_range(stats: &[Summary]) -> anyhow::Result<(f64, f64)> {
    let lo = stats.iter().map(Summary::min).fold(f64::INFINITY, f64::min);
    let hi = stats
        .iter()
        .map(Summary::max)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    if !span.is_finite() {
        bail!("samples span too wide a range to plot ({lo:e} to {hi:e} ms)");
    }
    let (a, b) = if span <= 0.0 {
        // All samples equal: show them against 0 so the axis has a scale.
        match lo {
            v if v > 0.0 => (0.0, v * 1.15),
            v if v < 0.0 => (v * 1.15, 0.0),
            _ => (0.0, 1.0),
        }
    } else if lo >= 0.0 && lo <= 0.5 * hi {
        (0.0, hi + 0.08 * span)
    } else {
        (lo - 0.08 * span, hi + 0.08 * span)
    };
    if !(b - a).is_finite() || b <= a {
        bail!("samples span too wide a range to plot ({lo:e} to {hi:e} ms)");
    }
    Ok((a, b))
}

/// Formats a time in ms with about three significant digits: enough to tell
/// builds apart, short enough to sit beside a box.
fn fmt_ms(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0} ms")
    } else if a >= 100.0 {
        format!("{v:.1} ms")
    } else if a >= 1.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.3} ms")
    }
}

/// How many y ticks the mesh asks for (at most).
const Y_TICKS: usize = 6;

/// Decimals for the y tick labels: just enough for the tick step `plotters`
/// will actually use (asked from the same key-point algorithm), so that
/// "55" is not printed "55.0" and ticks 0.25 apart never print the same
/// number.
fn tick_decimals(lo: f64, hi: f64) -> usize {
    let points = RangedCoordf64::from(lo..hi).key_points(Y_TICKS);
    let step = points
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    if !step.is_finite() {
        return 2;
    }
    (0..=9)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(9)
}

/// Shortens `s` to at most `max_chars` characters by replacing its middle
/// with an ellipsis: the start and the end of a build's file name (directory,
/// and the file name with its ".wasm" suffix or version) are what tell builds
/// apart, the end a little more, so it keeps more of the end.
fn ellipsize(s: &str, max_chars: usize) -> String {
    let n = s.chars().count();
    if n <= max_chars {
        return s.to_string();
    }
    if max_chars <= 1 {
        return "…".to_string();
    }
    let keep = max_chars - 1;
    let head = keep * 2 / 5;
    let tail = keep - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// How many characters of text at `px` fit into `width` pixels.
fn chars_fitting(width: f64, px: f64) -> usize {
    (width / (px * CHAR_WIDTH_EM)).floor().max(1.0) as usize
}

/// The caption under the title: what is compared, and on how many rounds, so
/// the picture is self-explaining when it is shared without the terminal
/// output.
fn caption(builds: &[PlotBuild<'_>]) -> String {
    let counts = builds
        .iter()
        .flat_map(|b| [b.wall_ms.len(), b.guest_ms.len()]);
    let (lo, hi) = counts.fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    let rounds = match (lo, hi) {
        (1, 1) => "1 round".to_string(),
        (a, b) if a == b => format!("{a} rounds"),
        (a, b) => format!("{a}–{b} rounds"),
    };
    let label = builds.first().map(|b| b.label).unwrap_or_default();
    if builds.len() == 1 {
        format!("{label} · {rounds}")
    } else {
        format!("baseline: {label} · {rounds} each · dashed line: baseline median")
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult<'a> =
    Result<(), DrawingAreaErrorKind<<SVGBackend<'a> as DrawingBackend>::ErrorType>>;

/// Draws the header and both panels; `wall` and `guest` carry each panel's
/// summaries and y range, computed (and checked) before drawing starts.
fn draw<'a>(
    root: &Area<'a>,
    title: &str,
    builds: &[PlotBuild<'_>],
    wall: (&[Summary], (f64, f64)),
    guest: (&[Summary], (f64, f64)),
) -> DrawResult<'a> {
    root.fill(&WHITE)?;
    let width = root.dim_in_pixel().0;

    let center = Pos::new(HPos::Center, VPos::Top);
    let title_px = 20.0;
    let title_text = ellipsize(title, chars_fitting(f64::from(width) - 40.0, title_px));
    root.draw(&Text::new(
        title_text,
        (width as i32 / 2, 12),
        (FONT, font_px(title_px))
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK)
            .pos(center),
    ))?;
    let caption_px = 13.0;
    let caption_text = ellipsize(
        &caption(builds),
        chars_fitting(f64::from(width) - 40.0, caption_px),
    );
    root.draw(&Text::new(
        caption_text,
        (width as i32 / 2, 42),
        (FONT, font_px(caption_px))
            .into_font()
            .color(&MUTED)
            .pos(center),
    ))?;

    let labels: Vec<&str> = builds.iter().map(|b| b.label).collect();
    let (_, body) = root.split_vertically(HEADER);
    let panels = body.split_evenly((1, 2));
    if let [left, right] = panels.as_slice() {
        draw_panel(left, "wall time", &labels, wall.0, wall.1)?;
        draw_panel(right, "guest time", &labels, guest.0, guest.1)?;
    }
    Ok(())
}

/// One panel: a column per build with dots, box, whiskers and median, on a
/// y axis in ms of its own. The two panels do not share a scale because guest
/// time can be a small fraction of wall time, and the point of each panel is
/// comparing builds within it.
fn draw_panel<'a>(
    area: &Area<'a>,
    name: &str,
    labels: &[&str],
    stats: &[Summary],
    (y_lo, y_hi): (f64, f64),
) -> DrawResult<'a> {
    let n = stats.len().max(1);
    let x_range = -0.5..(n as f64 - 0.5);
    let mut chart = ChartBuilder::on(area)
        .caption(
            name,
            (FONT, font_px(16.0)).into_font().style(FontStyle::Bold),
        )
        .margin_left(10)
        .margin_right(16)
        .margin_top(4)
        .margin_bottom(6)
        .x_label_area_size(42)
        .y_label_area_size(62)
        .build_cartesian_2d(x_range, y_lo..y_hi)?;

    let decimals = tick_decimals(y_lo, y_hi);
    let tick_fmt = move |v: &f64| {
        // Rounded first and then added to +0 so a tick at -1e-17 prints "0",
        // not "-0.0".
        let scale = 10f64.powi(decimals as i32);
        let v = (v * scale).round() / scale + 0.0;
        format!("{v:.decimals$}")
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(Y_TICKS)
        .y_label_formatter(&tick_fmt)
        .y_desc("ms")
        .label_style((FONT, font_px(12.0)).into_font().color(&MUTED))
        .axis_desc_style((FONT, font_px(13.0)).into_font().color(&MUTED))
        .bold_line_style(BLACK.mix(0.10))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.mix(0.45))
        .draw()?;

    let x_px = chart.plotting_area().get_pixel_range().0;
    let (px_lo, px_hi) = (x_px.start, x_px.end);
    let plot_w = f64::from((px_hi - px_lo).max(1));
    let col_px = plot_w / n as f64;
    // Pixels to x-axis units, for laying columns out in pixels.
    let unit = n as f64 / plot_w;

    // The baseline's median as a dashed line from its column across the
    // others: the reference they are read against. It starts after the
    // baseline's own column so it does not cross that column's label.
    if let (Some(base), true) = (stats.first(), n > 1) {
        chart.draw_series(std::iter::once(DashedPathElement::new(
            vec![(0.5, base.median), (n as f64 - 0.5, base.median)],
            6,
            4,
            color_of(0).mix(0.6).stroke_width(1),
        )))?;
    }

    let baseline_median = stats.first().map(|b| b.median);
    for (i, s) in stats.iter().enumerate() {
        let layout = ColumnLayout::new(i, s, baseline_median, col_px, unit);
        draw_column(&mut chart, i, s, &layout, (y_lo, y_hi))?;
    }

    // Build labels under each column, in the build's color, shortened to the
    // column's width; the baseline gets a note so the dashed line is explained
    // where the eye already is.
    let label_px = 13.0;
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64, y_lo));
        let text = ellipsize(label, chars_fitting(col_px - 8.0, label_px));
        area.draw(&Text::new(
            text,
            (x - area.get_base_pixel().0, y - area.get_base_pixel().1 + 8),
            (FONT, font_px(label_px))
                .into_font()
                .color(&darker(color_of(i)))
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        if i == 0 && n > 1 {
            area.draw(&Text::new(
                "baseline",
                (
                    x - area.get_base_pixel().0,
                    y - area.get_base_pixel().1 + 25,
                ),
                (FONT, font_px(11.0))
                    .into_font()
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
    }
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Deterministic jitter in [0, 1): the golden-ratio sequence spreads any
/// number of rounds evenly without clumps, and needs no random generator,
/// so the same samples always give the same picture.
fn jitter(i: usize) -> f64 {
    (i as f64 * 0.618_033_988_749_895).fract()
}

/// Dot radius and opacity by sample count: a few rounds are drawn as clear
/// dots, thousands as a faint cloud whose density shows where rounds fall.
fn dot_style(count: usize) -> (f64, f64) {
    match count {
        0..=60 => (3.2, 0.55),
        61..=500 => (2.4, 0.40),
        501..=3000 => (1.8, 0.25),
        _ => (1.4, 0.15),
    }
}

/// Relative local density of each sample in (0, 1], from a histogram over
/// the panel's range: the dots' horizontal spread follows it, which turns
/// the cloud into a violin-like outline of the distribution.
fn densities(samples: &[f64], (y_lo, y_hi): (f64, f64)) -> Vec<f64> {
    const BINS: usize = 40;
    let bin = |v: f64| {
        let t = ((v - y_lo) / (y_hi - y_lo) * BINS as f64).floor();
        if t.is_finite() {
            t.clamp(0.0, (BINS - 1) as f64) as usize
        } else {
            0
        }
    };
    let mut counts = [0usize; BINS];
    for &v in samples {
        counts[bin(v)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    samples
        .iter()
        .map(|&v| counts[bin(v)] as f64 / max)
        .collect()
}

/// Size of the median value label, and of the change against the baseline
/// under it, in on-screen px.
const MEDIAN_PX: f64 = 12.0;
const DELTA_PX: f64 = 11.0;

/// Where one column's parts go, in x-axis units. Laid out in pixels: dots,
/// then the box, then the median label, side by side so none hides another,
/// centered as a group on the column so it lines up with the build's label.
struct ColumnLayout {
    dots_mid: f64,
    dots_half: f64,
    box_l: f64,
    box_r: f64,
    text_x: f64,
    value: String,
    delta: Option<String>,
}

impl ColumnLayout {
    fn new(i: usize, s: &Summary, baseline_median: Option<f64>, col_px: f64, unit: f64) -> Self {
        let value = fmt_ms(s.median);
        // Against the baseline: the number people ask for first.
        let delta = match baseline_median {
            Some(b) if i > 0 && b != 0.0 => {
                let pct = (s.median - b) / b.abs() * 100.0;
                pct.is_finite()
                    .then(|| format!("{}{:.1} %", if pct < 0.0 { "−" } else { "+" }, pct.abs()))
            }
            _ => None,
        };
        let text_chars = value
            .chars()
            .count()
            .max(delta.as_ref().map_or(0, |d| d.chars().count()));
        // Bold digits are a little wider than the average glyph.
        let text_px = text_chars as f64 * MEDIAN_PX * (CHAR_WIDTH_EM + 0.04);
        let gap = 5.0;
        // What is left for dots and box once the label and some padding
        // against the neighbouring columns are taken; capped so that a lone
        // build does not become a wall of dots.
        let rest = (col_px - 12.0 - text_px - 2.0 * gap).clamp(28.0, 100.0);
        let box_px = (rest * 0.3).clamp(12.0, 30.0);
        // A single round is drawn on its median line, so it needs no room
        // for dots and the group stays centered under the build's label.
        let (dots_px, dots_gap) = if s.samples.len() > 1 {
            (rest - box_px, gap)
        } else {
            (0.0, 0.0)
        };
        let group = dots_px + dots_gap + box_px + gap + text_px;
        let left = -group / 2.0;
        let c = i as f64;
        let at = |px: f64| c + px * unit;
        ColumnLayout {
            dots_mid: at(left + dots_px / 2.0),
            dots_half: dots_px / 2.0 * unit,
            box_l: at(left + dots_px + dots_gap),
            box_r: at(left + dots_px + dots_gap + box_px),
            text_x: at(left + dots_px + dots_gap + box_px + gap),
            value,
            delta,
        }
    }
}

fn draw_column<'b>(
    chart: &mut Chart<'_, 'b>,
    i: usize,
    s: &Summary,
    l: &ColumnLayout,
    y: (f64, f64),
) -> DrawResult<'b> {
    let color = color_of(i);
    let dark = darker(color);
    let box_mid = (l.box_l + l.box_r) / 2.0;

    let (radius, alpha) = dot_style(s.samples.len());
    if let [only] = s.samples.as_slice() {
        // A single round has no spread to show: its dot sits on the median.
        chart.draw_series(std::iter::once(Circle::new(
            (box_mid, *only),
            radius + 1.0,
            color.mix(0.8).filled(),
        )))?;
    } else {
        let density = densities(&s.samples, y);
        chart.draw_series(
            s.samples
                .iter()
                .zip(&density)
                .enumerate()
                .map(|(k, (&v, &d))| {
                    let spread = l.dots_half * (0.25 + 0.75 * d);
                    let x = l.dots_mid + (2.0 * jitter(k) - 1.0) * spread;
                    Circle::new((x, v), radius, color.mix(alpha).filled())
                }),
        )?;
        let cap = (l.box_r - l.box_l) * 0.3;
        let whisker = color.stroke_width(1);
        chart.draw_series([
            PathElement::new(vec![(box_mid, s.q3), (box_mid, s.whisker_hi)], whisker),
            PathElement::new(vec![(box_mid, s.q1), (box_mid, s.whisker_lo)], whisker),
            PathElement::new(
                vec![(box_mid - cap, s.whisker_hi), (box_mid + cap, s.whisker_hi)],
                whisker,
            ),
            PathElement::new(
                vec![(box_mid - cap, s.whisker_lo), (box_mid + cap, s.whisker_lo)],
                whisker,
            ),
        ])?;
        chart.draw_series([
            Rectangle::new([(l.box_l, s.q3), (l.box_r, s.q1)], color.mix(0.14).filled()),
            Rectangle::new([(l.box_l, s.q3), (l.box_r, s.q1)], color.stroke_width(1)),
        ])?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(l.box_l, s.median), (l.box_r, s.median)],
        dark.stroke_width(3),
    )))?;

    let value_pos = if l.delta.is_some() {
        VPos::Bottom
    } else {
        VPos::Center
    };
    chart.draw_series(std::iter::once(Text::new(
        l.value.clone(),
        (l.text_x, s.median),
        (FONT, font_px(MEDIAN_PX))
            .into_font()
            .style(FontStyle::Bold)
            .color(&dark)
            .pos(Pos::new(HPos::Left, value_pos)),
    )))?;
    if let Some(delta) = &l.delta {
        chart.draw_series(std::iter::once(Text::new(
            delta.clone(),
            (l.text_x, s.median),
            (FONT, font_px(DELTA_PX))
                .into_font()
                .color(&MUTED)
                .pos(Pos::new(HPos::Left, VPos::Top)),
        )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Deterministic skewed samples around `median_ms`: a tight body, a tail
    /// to the right and one outlier, like real replay rounds.
    fn samples(n: usize, median_ms: f64, seed: u64) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                let tail = if i == n / 2 { 1.6 } else { 1.0 };
                median_ms * (0.95 + 0.1 * u * u) * tail
            })
            .collect()
    }

    fn out_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plot-scratch-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the test output directory");
        dir.join(name)
    }

    fn read(path: &std::path::Path) -> String {
        std::fs::read_to_string(path).expect("reading the written SVG")
    }

    fn assert_svg(svg: &str) {
        let trimmed = svg.trim();
        assert!(
            trimmed.starts_with("<svg"),
            "does not start with <svg: {:?}",
            &trimmed[..40.min(trimmed.len())]
        );
        assert!(trimmed.ends_with("</svg>"), "does not end with </svg>");
        assert_eq!(
            svg.matches("<text").count(),
            svg.matches("</text>").count(),
            "unbalanced <text> elements"
        );
        assert!(svg.contains("guest"), "no guest panel");
        assert!(svg.contains("wall"), "no wall panel");
    }

    #[test]
    fn two_builds_thirty_rounds() {
        let (aw, ag) = (samples(30, 12.3, 1), samples(30, 8.1, 2));
        let (bw, bg) = (samples(30, 11.0, 3), samples(30, 7.2, 4));
        let builds = [
            PlotBuild {
                label: "a.wasm",
                wall_ms: &aw,
                guest_ms: &ag,
            },
            PlotBuild {
                label: "b-optimized.wasm",
                wall_ms: &bw,
                guest_ms: &bg,
            },
        ];
        let path = out_path("two.svg");
        write_svg(&path, "cli trace", &builds).expect("writing the plot");
        let svg = read(&path);
        assert_svg(&svg);
        assert!(svg.contains("a.wasm"));
        assert!(svg.contains("b-optimized.wasm"));
        assert!(svg.contains("baseline: a.wasm"));
        assert!(svg.contains("cli trace"));
        // Every sample is a dot: 2 builds x 2 panels x 30 rounds.
        assert!(svg.matches("<circle").count() >= 120);
        // The medians are written with their unit.
        assert!(svg.contains(" ms\n"), "no median label with unit");
    }

    #[test]
    fn one_build_one_round() {
        let builds = [PlotBuild {
            label: "only.wasm",
            wall_ms: &[5.0],
            guest_ms: &[3.5],
        }];
        let path = out_path("one.svg");
        write_svg(&path, "single", &builds).expect("writing the plot");
        let svg = read(&path);
        assert_svg(&svg);
        assert!(svg.contains("only.wasm"));
        assert!(svg.contains("5.00 ms"));
        assert!(svg.contains("3.50 ms"));
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    #[test]
    fn four_builds_many_rounds_and_long_labels() {
        let data: Vec<(Vec<f64>, Vec<f64>)> = (0..4)
            .map(|i| {
                (
                    samples(5000, 100.0 + i as f64, i),
                    samples(5000, 40.0, i + 10),
                )
            })
            .collect();
        let long = "a-very-long-directory-name/and-an-even-longer-build-name-v1.2.3.wasm";
        let builds: Vec<PlotBuild<'_>> = data
            .iter()
            .map(|(w, g)| PlotBuild {
                label: long,
                wall_ms: w,
                guest_ms: g,
            })
            .collect();
        let path = out_path("four.svg");
        write_svg(&path, "many", &builds).expect("writing the plot");
        let svg = read(&path);
        assert_svg(&svg);
        assert!(svg.contains('…'), "long labels were not shortened");
    }

    #[test]
    fn constant_and_zero_samples_draw() {
        let zeros = [0.0; 5];
        let same = [7.0; 5];
        let neg = [-1.0, -2.0, 3.0];
        let builds = [
            PlotBuild {
                label: "zero",
                wall_ms: &zeros,
                guest_ms: &zeros,
            },
            PlotBuild {
                label: "same",
                wall_ms: &same,
                guest_ms: &neg,
            },
        ];
        let path = out_path("degenerate.svg");
        write_svg(&path, "degenerate", &builds).expect("writing the plot");
        assert_svg(&read(&path));
    }

    #[test]
    fn extreme_finite_values_draw() {
        for (w, g) in [
            (vec![1e300, -1e300], vec![1e-300, 2e-300]),
            (vec![1e-9, 2e-9, 3e-9], vec![f64::MIN_POSITIVE; 3]),
            (vec![-5.0, -7.0], vec![0.0, -0.0]),
        ] {
            let builds = [
                PlotBuild {
                    label: "x",
                    wall_ms: &w,
                    guest_ms: &g,
                },
                PlotBuild {
                    label: "",
                    wall_ms: &g,
                    guest_ms: &w,
                },
            ];
            let path = out_path("extreme.svg");
            write_svg(&path, "", &builds).expect("writing the plot");
            assert_svg(&read(&path));
        }
    }

    #[test]
    fn empty_input_is_an_error() {
        let path = out_path("empty.svg");
        assert!(write_svg(&path, "t", &[]).is_err());
        let builds = [PlotBuild {
            label: "a",
            wall_ms: &[],
            guest_ms: &[1.0],
        }];
        let err = write_svg(&path, "t", &builds).expect_err("empty wall samples");
        assert!(format!("{err:#}").contains("no wall"), "{err:#}");
        let builds = [PlotBuild {
            label: "a",
            wall_ms: &[1.0],
            guest_ms: &[],
        }];
        assert!(write_svg(&path, "t", &builds).is_err());
    }

    #[test]
    fn non_finite_input_is_an_error() {
        let path = out_path("nan.svg");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let wall = [1.0, bad, 2.0];
            let builds = [
                PlotBuild {
                    label: "ok",
                    wall_ms: &[1.0, 2.0],
                    guest_ms: &[1.0, 2.0],
                },
                PlotBuild {
                    label: "bad",
                    wall_ms: &wall,
                    guest_ms: &[1.0, 2.0, 3.0],
                },
            ];
            let err = write_svg(&path, "t", &builds).expect_err("non-finite sample");
            let msg = format!("{err:#}");
            assert!(msg.contains("bad") && msg.contains("round 2"), "{msg}");
        }
        // Finite but too far apart to have a finite span.
        let builds = [PlotBuild {
            label: "huge",
            wall_ms: &[f64::MAX, -f64::MAX],
            guest_ms: &[1.0],
        }];
        let err = write_svg(&path, "t", &builds).expect_err("infinite span");
        assert!(format!("{err:#}").contains("too wide"), "{err:#}");
    }

    #[test]
    fn missing_directory_is_an_error_with_context() {
        let path = out_path("no-such-dir").join("plot.svg");
        let builds = [PlotBuild {
            label: "a",
            wall_ms: &[1.0, 2.0],
            guest_ms: &[1.0, 2.0],
        }];
        let err = write_svg(&path, "t", &builds).expect_err("missing directory");
        let msg = format!("{err:#}");
        assert!(msg.contains("no-such-dir"), "{msg}");
    }
}
