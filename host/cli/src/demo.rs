//! `sqrtspace demo audio|ml|logs`: generates the input (audio, or access logs with
//! incidents), runs the pipeline in classic mode and in the mode auto picks, each in its own
//! process so each peak RSS is its own, checks the two outputs are the same bytes, and prints
//! the report.

use std::ffi::OsString;
use std::path::Path;

use crate::report::{Report, format_secs};
use anyhow::bail;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use sqrtspace::metrics::LlcMisses;
use sqrtspace::spec::ByteSize;
use sqrtspace_testdata::logs::{Incident, IncidentKind, write_logs};
use sqrtspace_testdata::{AudioFormat, write_audio};

use super::child::{self, AUDIO_PIPELINE, Outcome};

#[derive(Debug, Args)]
pub struct DemoCommand {
    #[command(subcommand)]
    what: Demo,
}

#[derive(Debug, Subcommand)]
enum Demo {
    /// The audio pipeline: FFT, band-pass, features, a smoothing IIR kernel, a classifier.
    Audio(DemoAudio),
    /// The ML preprocessing pipeline: log-mel bands, patches, seeded masking,
    /// standardization.
    Ml(DemoAudio),
    /// The logs pipeline: parse, per-window counts and quantiles, rolling aggregates, alerts
    /// (all Wasm plugins) over generated access logs with injected incidents.
    Logs(DemoLogs),
}

#[derive(Debug, Args)]
struct DemoLogs {
    /// Lines of access log to generate.
    #[arg(long, default_value_t = 2_000_000)]
    lines: u64,
    /// Keep the generated files in this directory instead of a temporary one.
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct DemoAudio {
    /// Seconds of audio to generate.
    #[arg(long, default_value_t = 600.0)]
    seconds: f64,
    /// Keep the generated files in this directory instead of a temporary one.
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

/// The ML preprocessing pipeline, built into the binary like the audio one.
const ML_PIPELINE: &str = include_str!("../pipelines/ml-preproc.ron");
/// The logs pipeline.
const LOGS_PIPELINE: &str = include_str!("../pipelines/logs.ron");

/// Runs `dir/pipeline.ron` over `dir/input` in `mode` in a child process, writing
/// `dir/MODE.ext`.
fn run_child(dir: &Path, input: &str, mode: &str, ext: &str) -> anyhow::Result<Report> {
    let args: Vec<OsString> = vec![
        dir.join("pipeline.ron").into(),
        "--input".into(),
        dir.join(input).into(),
        "--output".into(),
        dir.join(format!("{mode}.{ext}")).into(),
        "--mode".into(),
        mode.into(),
    ];
    let run = child::run(&args, &dir.join(format!("{mode}.json")), None)?;
    match (run.outcome, run.report) {
        (Outcome::Ok, Some(report)) => Ok(report),
        (Outcome::Failed(message), _) => bail!("the {mode} run failed: {message}"),
        (outcome, _) => bail!("the {mode} run failed: {outcome:?}"),
    }
}

impl DemoCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let (name, pipeline, args) = match self.what {
            Demo::Audio(args) => ("Audio", AUDIO_PIPELINE, args),
            Demo::Ml(args) => ("ML preprocessing", ML_PIPELINE, args),
            Demo::Logs(args) => return demo_logs(&args),
        };
        let mut temp = None;
        let dir = work_dir(&args.keep, &mut temp)?;
        std::fs::write(dir.join("pipeline.ron"), pipeline)?;
        let spec = sqrtspace::Spec::from_ron(pipeline, "pipeline.ron")?;
        let samples = (args.seconds * f64::from(spec.sample_rate)).round() as u64;
        // A spinner on a terminal; nothing when stderr is a file or a pipe.
        let progress = indicatif::ProgressBar::new_spinner();
        progress.enable_steady_tick(std::time::Duration::from_millis(100));
        progress.set_message(format!("generating {} s of audio", args.seconds));
        write_audio(
            &dir.join("audio.wav"),
            AudioFormat::Wav16,
            samples,
            spec.sample_rate,
            1,
        )?;
        let (classic, auto, identical) = classic_and_auto(dir, "audio.wav", "npy", &progress)?;
        let what = format!(
            "{name} demo: {} s of audio, {} windows of {} samples, hop {}",
            args.seconds, auto.run.windows_out, auto.window, auto.hop
        );
        outln!("{}", comparison(&what, &auto, &classic, identical));
        if !identical {
            bail!("the outputs differ");
        }
        Ok(())
    }
}

/// `keep`, created, or a temporary directory held in `temp`.
fn work_dir<'a>(
    keep: &'a Option<std::path::PathBuf>,
    temp: &'a mut Option<tempfile::TempDir>,
) -> anyhow::Result<&'a Path> {
    Ok(match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.as_path()
        }
        None => temp.insert(tempfile::tempdir()?).path(),
    })
}

/// Classic mode, then auto, each in a child process of its own; whether their outputs are
/// the same bytes.
fn classic_and_auto(
    dir: &Path,
    input: &str,
    ext: &str,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<(Report, Report, bool)> {
    progress.set_message("running classic mode (the baseline) in its own process");
    let classic = run_child(dir, input, "classic", ext)?;
    progress.set_message("running auto mode in its own process");
    let auto = run_child(dir, input, "auto", ext)?;
    progress.finish_and_clear();
    let identical = std::fs::read(dir.join(format!("classic.{ext}")))?
        == std::fs::read(dir.join(format!("auto.{ext}")))?;
    Ok((classic, auto, identical))
}

fn demo_logs(args: &DemoLogs) -> anyhow::Result<()> {
    let mut temp = None;
    let dir = work_dir(&args.keep, &mut temp)?;
    std::fs::write(dir.join("pipeline.ron"), LOGS_PIPELINE)?;
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(std::time::Duration::from_millis(100));
    progress.set_message(format!("generating {} lines of access log", args.lines));
    let incidents = write_logs(
        &dir.join("access.log"),
        &dir.join("incidents.jsonl"),
        args.lines,
        1,
    )?;
    let (classic, auto, identical) = classic_and_auto(dir, "access.log", "jsonl", &progress)?;
    let what = format!(
        "Logs demo: {} lines, {} windows of {} lines, hop {}",
        args.lines, auto.run.windows_out, auto.window, auto.hop
    );
    outln!("{}", comparison(&what, &auto, &classic, identical));
    if let Some(lines) = auto.lines {
        outln!(
            "Input: {} lines, {} not UTF-8 (replaced), {} cut",
            lines.lines,
            lines.invalid_utf8,
            lines.truncated
        );
    }
    let alerts = std::fs::read_to_string(dir.join("auto.jsonl"))?;
    outln!("{}", alert_summary(&alerts, &incidents)?);
    if !identical {
        bail!("the outputs differ");
    }
    Ok(())
}

/// How many alerts of each kind fired and whether each lies over an injected incident of its
/// kind (the generator's ground truth).
fn alert_summary(alerts: &str, incidents: &[Incident]) -> anyhow::Result<String> {
    let mut counts: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for line in alerts.lines() {
        let event: serde_json::Value = serde_json::from_str(line)?;
        let rule = event["alert"].as_str().unwrap_or("?").to_string();
        let evidence = event["evidence"]
            .as_array()
            .and_then(|pair| Some((pair.first()?.as_u64()?, pair.get(1)?.as_u64()?)));
        let kind = match rule.as_str() {
            "error-ratio" => Some(IncidentKind::ErrorBurst),
            "latency-p95" => Some(IncidentKind::LatencySpike),
            _ => None,
        };
        let explained = match (evidence, kind) {
            (Some((first, end)), Some(kind)) => incidents
                .iter()
                .any(|i| i.kind == kind && first < i.end && i.first < end),
            _ => false,
        };
        let entry = counts.entry(rule).or_default();
        entry.0 += 1;
        entry.1 += usize::from(explained);
    }
    let mut out = format!("Alerts: {}", alerts.lines().count());
    for (rule, (n, explained)) in &counts {
        out.push_str(&format!(
            "; {rule} {n} ({explained} over an injected incident)"
        ));
    }
    let injected: Vec<String> = incidents
        .iter()
        .map(|i| {
            let kind = match i.kind {
                IncidentKind::ErrorBurst => "error burst",
                IncidentKind::LatencySpike => "latency spike",
            };
            format!("{kind} at lines {}..{}", i.first, i.end)
        })
        .collect();
    out.push_str(&format!("\nIncidents injected: {}", injected.join("; ")));
    Ok(out)
}

/// How `chosen` compares with `baseline`, as "N× <less>" or "N× <more>".
fn ratio(chosen: f64, baseline: f64, less: &str, more: &str) -> String {
    match (chosen > 0.0, baseline > 0.0) {
        (true, true) if chosen <= baseline => format!("{:.1}x {less}", baseline / chosen),
        (true, true) => format!("{:.1}x {more}", chosen / baseline),
        (false, true) => format!("none vs {baseline}"),
        _ => "n/a".into(),
    }
}

/// The report table of `chosen` against `baseline`, under the heading `what`.
fn comparison(what: &str, chosen: &Report, baseline: &Report, identical: bool) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "",
        &format!("{} (auto)", chosen.mode),
        "classic (baseline)",
        "auto vs baseline",
    ]);
    let rss = |r: &Report| r.usage.max_rss_bytes as f64;
    table.add_row([
        "peak RSS".to_string(),
        ByteSize(chosen.usage.max_rss_bytes).to_string(),
        ByteSize(baseline.usage.max_rss_bytes).to_string(),
        ratio(rss(chosen), rss(baseline), "smaller", "larger"),
    ]);
    table.add_row([
        "major / minor faults".to_string(),
        format!(
            "{} / {}",
            chosen.usage.major_faults, chosen.usage.minor_faults
        ),
        format!(
            "{} / {}",
            baseline.usage.major_faults, baseline.usage.minor_faults
        ),
        ratio(
            (chosen.usage.minor_faults + chosen.usage.major_faults) as f64,
            (baseline.usage.minor_faults + baseline.usage.major_faults) as f64,
            "fewer",
            "more",
        ),
    ]);
    table.add_row([
        "time".to_string(),
        format_secs(chosen.wall_secs),
        format_secs(baseline.wall_secs),
        ratio(chosen.wall_secs, baseline.wall_secs, "faster", "slower"),
    ]);
    table.add_row(llc_row(
        chosen.llc_misses.as_ref(),
        baseline.llc_misses.as_ref(),
    ));
    table.add_row([
        "windows".to_string(),
        chosen.run.windows_out.to_string(),
        baseline.run.windows_out.to_string(),
        String::new(),
    ]);
    format!(
        "{what}\n\
         Mode: {} ({})\n\
         Window: {}   k: {}   Block: {}   LRU: {}   Workers: {}\n\
         {table}\n\
         Outputs: {}",
        chosen.mode,
        chosen.mode_reason,
        chosen.window,
        chosen.checkpoint_every,
        chosen.block,
        ByteSize(chosen.lru_bytes),
        chosen.workers,
        if identical {
            "bit-identical"
        } else {
            "DIFFERENT"
        }
    )
}

/// The last-level-cache row: both counts and their ratio, or "n/a" and why.
fn llc_row(chosen: Option<&LlcMisses>, baseline: Option<&LlcMisses>) -> [String; 4] {
    let cell = |m: Option<&LlcMisses>| match m {
        Some(LlcMisses::Counted(n)) => n.to_string(),
        _ => "n/a".into(),
    };
    let comparison = match (chosen, baseline) {
        (Some(LlcMisses::Counted(a)), Some(LlcMisses::Counted(b))) => {
            ratio(*a as f64, *b as f64, "fewer", "more")
        }
        (Some(LlcMisses::Unavailable(why)), _) | (_, Some(LlcMisses::Unavailable(why))) => {
            why.clone()
        }
        _ => "not measured".into(),
    };
    [
        "LLC misses".to_string(),
        cell(chosen),
        cell(baseline),
        comparison,
    ]
}

#[cfg(test)]
mod tests {
    use super::{LlcMisses, llc_row, ratio};

    #[test]
    fn the_cache_row_compares_counts_or_says_why_not() {
        let counted = |n| Some(LlcMisses::Counted(n));
        assert_eq!(
            llc_row(counted(1_000).as_ref(), counted(50_000).as_ref()),
            ["LLC misses", "1000", "50000", "50.0x fewer"]
        );
        let none = Some(LlcMisses::Unavailable("no counter here".into()));
        assert_eq!(
            llc_row(none.as_ref(), none.as_ref()),
            ["LLC misses", "n/a", "n/a", "no counter here"]
        );
        assert_eq!(llc_row(None, None)[3], "not measured");
    }

    #[test]
    fn ratios_read_as_how_many_times() {
        assert_eq!(ratio(6.0, 554.0, "smaller", "larger"), "92.3x smaller");
        assert_eq!(ratio(2.0, 1.0, "faster", "slower"), "2.0x slower");
        assert_eq!(ratio(0.0, 3.0, "fewer", "more"), "none vs 3");
        assert_eq!(ratio(1.0, 0.0, "fewer", "more"), "n/a");
    }
}
