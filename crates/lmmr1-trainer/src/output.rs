//! Run outputs under `--out DIR`: `metrics.jsonl` (one JSON object per rollout step or
//! evaluation), `samples.jsonl` (responses with their reward components), PNG plots and
//! `summary.json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::{io_err, Result};

/// Appends JSON lines to a file (flushed per line, so a kill loses nothing written).
#[derive(Debug)]
pub struct JsonLines {
    path: PathBuf,
    file: std::fs::File,
}

impl JsonLines {
    /// Opens `path` for appending; with `truncate_after_step`, lines whose `"step"` is greater
    /// are dropped first (a resumed run rewrites what the lost steps had logged).
    pub fn open(path: &Path, truncate_after_step: Option<usize>) -> Result<Self> {
        if let (Some(limit), true) = (truncate_after_step, path.exists()) {
            let text = std::fs::read_to_string(path).map_err(io_err(path))?;
            let kept: String = text
                .lines()
                .filter(|l| {
                    serde_json::from_str::<Value>(l)
                        .ok()
                        .and_then(|v| v.get("step").and_then(Value::as_u64))
                        .is_some_and(|s| s as usize <= limit)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            lmmr1_model::checkpoint::write_atomic(path, kept.as_bytes())?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Writes one line.
    pub fn write(&mut self, v: &Value) -> Result<()> {
        writeln!(self.file, "{v}")
            .and_then(|_| self.file.flush())
            .map_err(io_err(&self.path))
    }
}

/// Reads `metrics.jsonl` back as rows.
pub fn read_metrics(path: &Path) -> Result<Vec<BTreeMap<String, Value>>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The series of `key` over rows of `phase` as `(step, value)`.
pub fn series(rows: &[BTreeMap<String, Value>], phase: &str, key: &str) -> Vec<(f64, f64)> {
    rows.iter()
        .filter(|r| r.get("phase").and_then(Value::as_str) == Some(phase))
        .filter_map(|r| {
            Some((
                r.get("step")?.as_f64()?,
                r.get(key)?.as_f64().filter(|v| v.is_finite())?,
            ))
        })
        .collect()
}

/// One line of a plot: `(phase, metric key, legend label)`.
pub type Line = (&'static str, &'static str, &'static str);

/// The plots written after each evaluation: file name, title, and its lines.
pub const PLOTS: &[(&str, &str, &[Line])] = &[
    (
        "reward.png",
        "reward",
        &[
            ("train", "reward/mean", "train reward"),
            ("eval", "eval/mean_reward", "held-out reward (greedy)"),
        ],
    ),
    (
        "accuracy.png",
        "accuracy",
        &[
            ("train", "reward/accuracy", "train (sampled)"),
            ("eval", "eval/accuracy", "held-out greedy"),
            ("eval", "eval/pass_at_k", "held-out pass@k"),
        ],
    ),
    (
        "response_length.png",
        "response length (tokens)",
        &[("train", "response/length_mean", "train")],
    ),
    (
        "kl.png",
        "KL to reference (k1)",
        &[("train", "kl/mean", "train")],
    ),
    (
        "entropy.png",
        "entropy (nats/token)",
        &[("train", "actor/entropy", "train")],
    ),
];

fn font() -> Option<&'static [u8]> {
    static FONT: std::sync::OnceLock<Option<&'static [u8]>> = std::sync::OnceLock::new();
    *FONT.get_or_init(|| {
        let candidates = [
            std::env::var("LMMR1_FONT").unwrap_or_default(),
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
            "/usr/share/fonts/TTF/DejaVuSans.ttf".into(),
            "/usr/share/fonts/dejavu/DejaVuSans.ttf".into(),
            "/Library/Fonts/Arial.ttf".into(),
        ];
        let bytes = candidates
            .iter()
            .filter(|p| !p.is_empty())
            .find_map(|p| std::fs::read(p).ok())?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
            .ok()?;
        Some(bytes)
    })
}

/// Draws one line chart; without a TrueType font (set `LMMR1_FONT`), lines are drawn unlabelled.
pub fn line_chart(
    path: &Path,
    title: &str,
    lines: &[(String, Vec<(f64, f64)>)],
) -> std::result::Result<(), String> {
    use plotters::prelude::*;
    let pts: Vec<(f64, f64)> = lines.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    if pts.is_empty() {
        return Ok(());
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let labelled = font().is_some();
    let root = BitMapBackend::new(path, (720, 420)).into_drawing_area();
    let e = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(12);
    if labelled {
        builder
            .caption(title, ("sans-serif", 22))
            .x_label_area_size(36)
            .y_label_area_size(56);
    }
    let mut chart = builder
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|x| e(&x))?;
    if labelled {
        chart
            .configure_mesh()
            .x_desc("rollout step")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|x| e(&x))?;
    }
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN];
    for (i, (label, s)) in lines.iter().enumerate() {
        let c = colors[i % colors.len()];
        let series = chart
            .draw_series(LineSeries::new(s.iter().copied(), c.stroke_width(2)))
            .map_err(|x| e(&x))?;
        if labelled {
            series
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c));
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// Redraws every plot of [`PLOTS`] from `metrics.jsonl`; returns the files written.
pub fn write_plots(out: &Path) -> Result<Vec<PathBuf>> {
    let rows = read_metrics(&out.join("metrics.jsonl"))?;
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let mut written = Vec::new();
    for (file, title, keys) in PLOTS {
        let lines: Vec<(String, Vec<(f64, f64)>)> = keys
            .iter()
            .map(|(phase, key, label)| (label.to_string(), series(&rows, phase, key)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        let path = dir.join(file);
        match line_chart(&path, title, &lines) {
            Ok(()) => written.push(path),
            Err(e) => eprintln!("warning: plot {}: {e}", path.display()),
        }
    }
    Ok(written)
}

/// A metrics row: `{"step", "phase", ...metrics}`.
pub fn metrics_row(step: usize, phase: &str, metrics: &BTreeMap<String, f64>) -> Value {
    let mut v = json!({ "step": step, "phase": phase });
    if let Some(o) = v.as_object_mut() {
        for (k, x) in metrics {
            o.insert(
                k.clone(),
                if x.is_finite() { json!(x) } else { Value::Null },
            );
        }
    }
    v
}

/// A progress bar (hidden when `enabled` is false).
pub(crate) fn progress_bar(enabled: bool, len: u64, what: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{what:>10} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// Where metrics go: `metrics.jsonl` (one row per step and phase) and the TensorBoard event
/// file under `tb/`.
pub struct MetricsLog {
    /// `metrics.jsonl`.
    pub jsonl: JsonLines,
    /// `tb/events.out.tfevents.*`.
    pub tensorboard: crate::tensorboard::EventWriter,
}

impl MetricsLog {
    /// Logs one row of `phase` (`train`, `eval`) at `step` to both.
    pub fn write(
        &mut self,
        step: usize,
        phase: &str,
        metrics: &BTreeMap<String, f64>,
    ) -> Result<()> {
        self.jsonl.write(&metrics_row(step, phase, metrics))?;
        self.tensorboard.scalars(step, metrics)
    }
}
