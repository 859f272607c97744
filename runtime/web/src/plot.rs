//! Server-side SVG line plots of a series over a time window.
//!
//! The SVG carries its text as `<text>` elements that the browser lays out with its own
//! fonts, so the box needs no font files (plotters is built without `ttf`).

use chrono::{DateTime, FixedOffset};
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::view::Series;

/// Width and height of a plot, in SVG user units.
const SIZE: (u32, u32) = (720, 300);
/// The plotted line's colour.
const LINE: RGBColor = RGBColor(0x1d, 0x4e, 0xd8);
/// Hours between time labels, the first that gives at most six of them.
const LABEL_STEPS_H: [u64; 10] = [1, 2, 3, 4, 6, 12, 24, 48, 72, 168];
const HOUR_MS: u64 = 3_600_000;

/// What to draw.
pub(crate) struct Plot<'a> {
    /// The points (those outside the window are left out).
    pub series: &'a Series,
    /// The caption, in the page's language.
    pub title: &'a str,
    /// The time window, pole clock milliseconds.
    pub from_ms: u64,
    /// The end of the window (now).
    pub to_ms: u64,
    /// The pole's local time offset, for the time labels.
    pub utc_offset_minutes: i32,
    /// What to say when the window holds no point.
    pub no_data: &'a str,
}

/// Renders `plot` as an SVG document.
pub(crate) fn render_svg(plot: &Plot<'_>) -> Result<String, String> {
    let mut svg = String::new();
    draw(plot, &mut svg).map_err(|e| format!("cannot draw the plot: {e}"))?;
    Ok(svg)
}

fn draw(plot: &Plot<'_>, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let (from, to) = (plot.from_ms, plot.to_ms.max(plot.from_ms + 1));
    let points: Vec<(u64, f64)> = plot
        .series
        .points
        .iter()
        .copied()
        .filter(|(t, v)| (from..=to).contains(t) && v.is_finite())
        .collect();
    let points = thin(points, from, to, u64::from(SIZE.0));
    let offset = FixedOffset::east_opt(plot.utc_offset_minutes * 60)
        .ok_or("the UTC offset is out of range")?;
    let (y_min, y_max) = y_range(&points);

    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(plot.title, ("sans-serif", 28).into_font().color(&BLACK))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(76)
        .build_cartesian_2d(
            (from..to).with_key_points(time_labels(from, to, plot.utc_offset_minutes)),
            y_min..y_max,
        )?;
    let show_y = !points.is_empty();
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.08))
        .axis_style(BLACK.mix(0.45))
        .label_style(("sans-serif", 19).into_font().color(&BLACK.mix(0.7)))
        .x_label_formatter(&|ms| local_time(*ms, offset, to - from > 2 * 24 * HOUR_MS))
        .y_labels(if show_y { 6 } else { 0 })
        .y_label_formatter(&|v| number(*v))
        .y_desc(unit_label(&plot.series.unit))
        .draw()?;

    if points.is_empty() {
        let style = ("sans-serif", 28)
            .into_font()
            .color(&BLACK.mix(0.5))
            .pos(Pos::new(HPos::Center, VPos::Center));
        let middle = (from + (to - from) / 2, (y_min + y_max) / 2.0);
        chart
            .plotting_area()
            .draw(&Text::new(plot.no_data, middle, style))?;
    } else {
        chart.draw_series(LineSeries::new(points, LINE.stroke_width(2)))?;
    }
    root.present()?;
    Ok(())
}

/// At most two points per horizontal pixel, the lowest and the highest in time order, so a
/// day of one-second readings stays a small document with the same shape.
fn thin(points: Vec<(u64, f64)>, from: u64, to: u64, pixels: u64) -> Vec<(u64, f64)> {
    if points.len() as u64 <= 2 * pixels {
        return points;
    }
    let width = (to - from) / pixels + 1;
    let column = |t: u64| (t - from) / width;
    let mut thinned = Vec::with_capacity(2 * pixels as usize);
    for group in points.chunk_by(|a, b| column(a.0) == column(b.0)) {
        let low = group.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let high = group.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(&low), Some(&high)) = (low, high) {
            let (first, second) = if low.0 <= high.0 {
                (low, high)
            } else {
                (high, low)
            };
            thinned.push(first);
            if second != first {
                thinned.push(second);
            }
        }
    }
    thinned
}

/// The value axis: the points' range with a little room, or 0–1 without points.
fn y_range(points: &[(u64, f64)]) -> (f64, f64) {
    let (min, max) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    if points.is_empty() {
        (0.0, 1.0)
    } else if max - min < 1e-9 {
        let pad = (min.abs() * 0.1).max(1.0);
        (min - pad, max + pad)
    } else {
        let pad = (max - min) * 0.08;
        (min - pad, max + pad)
    }
}

/// Time labels on whole local hours, about six of them.
fn time_labels(from: u64, to: u64, utc_offset_minutes: i32) -> Vec<u64> {
    let span_h = (to - from).div_ceil(HOUR_MS);
    let step_h = LABEL_STEPS_H
        .into_iter()
        .find(|step| span_h / step <= 6)
        .unwrap_or(span_h.div_ceil(6));
    let step = i64::try_from(step_h * HOUR_MS).unwrap_or(i64::MAX);
    let offset = i64::from(utc_offset_minutes) * 60_000;
    let (from, to) = (from as i64, to as i64);
    let first = (from + offset).div_euclid(step) * step + step - offset;
    let labels: Vec<u64> = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= to)
        .filter_map(|t| u64::try_from(t).ok())
        .collect();
    labels
}

/// A pole clock time as local `HH:MM`, with the day when the plot spans days.
fn local_time(ms: u64, offset: FixedOffset, with_day: bool) -> String {
    let Some(utc) = DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX)) else {
        return String::new();
    };
    let local = utc.with_timezone(&offset);
    if with_day {
        local.format("%d/%m %H:%M").to_string()
    } else {
        local.format("%H:%M").to_string()
    }
}

/// A value with at most two decimals and no trailing zeros.
fn number(v: f64) -> String {
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A UCUM unit as people write it.
fn unit_label(ucum: &str) -> String {
    match ucum {
        "Cel" => "°C",
        "ug/m3" => "µg/m³",
        "mg/m3" => "mg/m³",
        "kW.h" => "kWh",
        "[ppm]" => "ppm",
        "[ppb]" => "ppb",
        "1" => "",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_labels_fall_on_whole_local_hours() {
        // 2024-01-01 00:30 UTC is 07:30 in Thailand; a 24-hour window gets labels every 4 h.
        let from = 1_704_069_000_000;
        let labels = time_labels(from, from + 24 * HOUR_MS, 420);
        let offset = FixedOffset::east_opt(420 * 60).unwrap();
        let texts: Vec<String> = labels
            .iter()
            .map(|t| local_time(*t, offset, false))
            .collect();
        assert_eq!(
            texts,
            ["08:00", "12:00", "16:00", "20:00", "00:00", "04:00"]
        );
    }

    #[test]
    fn thinning_keeps_each_pixels_extremes() {
        let points: Vec<(u64, f64)> = (0..10_000).map(|i| (i, (i % 7) as f64)).collect();
        let thinned = thin(points, 0, 10_000, 100);
        assert!(thinned.len() <= 200, "{} points", thinned.len());
        assert!(thinned.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(thinned.iter().map(|p| p.1).fold(f64::MIN, f64::max), 6.0);
        assert_eq!(thinned.iter().map(|p| p.1).fold(f64::MAX, f64::min), 0.0);
    }

    #[test]
    fn numbers_keep_at_most_two_decimals() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(1.23456), "1.23");
        assert_eq!(number(-0.001), "0");
        assert_eq!(number(0.5), "0.5");
    }
}
