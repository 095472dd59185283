//! The bench's plots: peak RSS and wall time against stream length for classic, sqrt and
//! auto mode at the default settings, as PNG and SVG.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::{Row, headline};

const MODES: [(&str, RGBColor); 3] = [
    ("classic", RGBColor(214, 39, 40)),
    ("sqrt", RGBColor(31, 119, 180)),
    ("auto", RGBColor(44, 160, 44)),
];
const SIZE: (u32, u32) = (900, 560);

/// One chart: a value of each run against its stream length in minutes.
struct Chart<'a> {
    title: &'a str,
    y_label: &'a str,
    value: fn(&Row) -> Option<f64>,
    /// A horizontal line (the budget) and its label.
    line: Option<(f64, String)>,
}

/// Draws `peak_rss` and `wall` as PNG and SVG in `out`; returns the files written.
pub(crate) fn draw(rows: &[Row], budget: u64, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    // Bitmaps need a font of their own (there may be none installed); SVG names one.
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| anyhow!("cannot load the plot font"))?;
    let rows = headline(rows);
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let charts = [
        (
            "peak_rss",
            Chart {
                title: "Peak RSS against stream length",
                y_label: "peak RSS (MiB, log scale)",
                value: |r| r.peak_rss_bytes.map(|b| b as f64 / f64::from(1 << 20)),
                line: Some((
                    mib(budget),
                    format!("budget {}", sqrtspace::spec::ByteSize(budget)),
                )),
            },
        ),
        (
            "wall",
            Chart {
                title: "Wall time against stream length",
                y_label: "wall time (s, log scale)",
                value: |r| r.wall_secs.filter(|_| r.status == "ok"),
                line: None,
            },
        ),
    ];
    let mut written = Vec::new();
    for (name, chart) in &charts {
        let png = out.join(format!("{name}.png"));
        draw_on(
            BitMapBackend::new(&png, SIZE).into_drawing_area(),
            &rows,
            chart,
        )?;
        let svg = out.join(format!("{name}.svg"));
        draw_on(
            SVGBackend::new(&svg, SIZE).into_drawing_area(),
            &rows,
            chart,
        )?;
        written.extend([png, svg]);
    }
    Ok(written)
}

fn draw_on<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    rows: &[&Row],
    chart: &Chart<'_>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing a plot: {e:?}");
    area.fill(&WHITE).map_err(err)?;
    let points: Vec<(f64, f64, &Row)> = rows
        .iter()
        .filter_map(|r| (chart.value)(r).map(|v| (x_of(r), v.max(1e-3), *r)))
        .collect();
    let lines = rows.iter().any(|r| r.unit == "lines");
    let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max) * 1.1 + 0.1;
    let mut ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    ys.extend(chart.line.as_ref().map(|l| l.0));
    let (y_min, y_max) = ys
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &y| (lo.min(y), hi.max(y)));
    // Whole decades, so that the log axis has labels at 1, 10, 100 ...
    let (y_min, y_max) = if y_min <= y_max {
        (
            10f64.powf(y_min.log10().floor()),
            10f64.powf((y_max * 1.5).log10().ceil()),
        )
    } else {
        (0.1, 10.0)
    };
    let mut ctx = ChartBuilder::on(&area)
        .caption(chart.title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, (y_min..y_max).log_scale())
        .map_err(err)?;
    ctx.configure_mesh()
        .x_desc(if lines {
            "stream length (millions of lines)"
        } else {
            "stream length (minutes of 48 kHz audio)"
        })
        .y_desc(chart.y_label)
        .label_style(("sans-serif", 15))
        .light_line_style(WHITE)
        .y_labels(20)
        .y_label_formatter(&|v| format!("{v}"))
        .x_label_formatter(&|v| {
            if lines {
                format!("{v:.1}")
            } else {
                format!("{v:.0}")
            }
        })
        .draw()
        .map_err(err)?;
    if let Some((y, label)) = &chart.line {
        let y = *y;
        ctx.draw_series(LineSeries::new(
            [(0.0, y), (x_max, y)],
            ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1),
        ))
        .map_err(err)?
        .label(label.clone())
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.5)));
    }
    for (mode, color) in MODES {
        let mut ok: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.2.mode == mode && p.2.status == "ok")
            .map(|p| (p.0, p.1))
            .collect();
        ok.sort_by(|a, b| a.0.total_cmp(&b.0));
        let style = ShapeStyle::from(&color).stroke_width(2);
        ctx.draw_series(LineSeries::new(ok.clone(), style))
            .map_err(err)?
            .label(mode)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        ctx.draw_series(ok.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(err)?;
        // Runs stopped at the budget: a cross where they were stopped.
        ctx.draw_series(
            points
                .iter()
                .filter(|p| p.2.mode == mode && p.2.status == "over-budget")
                .map(|p| Cross::new((p.0, p.1), 7, color.stroke_width(2))),
        )
        .map_err(err)?;
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
}

/// Where a run sits on the x axis: minutes of audio, or millions of lines.
fn x_of(row: &Row) -> f64 {
    if row.unit == "lines" {
        row.length / 1e6
    } else {
        row.length / 60.0
    }
}
