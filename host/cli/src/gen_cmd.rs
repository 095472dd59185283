//! `sqrtspace gen audio|logs`: deterministic synthetic audio or access logs of any length,
//! streamed to a file.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use sqrtspace_testdata::logs::write_logs;
use sqrtspace_testdata::{AudioFormat, write_audio, write_raw_f32, write_wav_stream};

#[derive(Debug, Args)]
pub struct GenCommand {
    #[command(subcommand)]
    what: Generate,
}

#[derive(Debug, Subcommand)]
enum Generate {
    /// Tones, a repeating chirp and seeded noise.
    Audio(GenAudio),
    /// Web-server access logs (nginx "combined" plus the request time) with error bursts and
    /// latency spikes at known line ranges, written beside them as ground truth.
    Logs(GenLogs),
}

#[derive(Debug, Args)]
struct GenLogs {
    /// Number of lines.
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
    /// Seed of the traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The log file to write.
    #[arg(long, short)]
    out: PathBuf,
    /// Where the incidents go, one JSON object per line (default: OUT.incidents.jsonl).
    #[arg(long)]
    incidents: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct GenAudio {
    /// Length in seconds.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Samples per second.
    #[arg(long, default_value_t = 48_000)]
    sample_rate: u32,
    /// Seed of the noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The file to write, or `-` for a stream on stdout (a 32-bit float WAV, or what
    /// `--format` says).
    #[arg(long, short)]
    out: PathBuf,
    /// File format (default: from the extension; .wav is 16-bit PCM).
    #[arg(long, value_parser = crate::args::choice::<AudioFormat>())]
    format: Option<AudioFormat>,
}

impl GenCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let args = match self.what {
            Generate::Audio(args) => args,
            Generate::Logs(args) => return args.execute(),
        };
        anyhow::ensure!(
            args.seconds.is_finite() && args.seconds >= 0.0,
            "--seconds must be a non-negative number, got {}",
            args.seconds
        );
        let samples = (args.seconds * f64::from(args.sample_rate)).round() as u64;
        if args.out.as_os_str() == "-" {
            // A float WAV unless asked otherwise: its header says what the stream is, so
            // `sqrtspace run --input -` reads it without being told.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            match args.format.unwrap_or(AudioFormat::WavF32) {
                AudioFormat::RawF32 => {
                    write_raw_f32(&mut out, samples, args.sample_rate, args.seed)
                }
                format => write_wav_stream(
                    &mut out,
                    format == AudioFormat::WavF32,
                    samples,
                    args.sample_rate,
                    args.seed,
                ),
            }
            .and_then(|()| std::io::Write::flush(&mut out))
            .context("writing samples to stdout")?;
            return Ok(());
        }
        let format = args
            .format
            .or_else(|| AudioFormat::from_path(&args.out))
            .with_context(|| {
                format!(
                    "cannot tell the format of {} from its name; pass --format",
                    args.out.display()
                )
            })?;
        write_audio(&args.out, format, samples, args.sample_rate, args.seed)?;
        Ok(())
    }
}

impl GenLogs {
    fn execute(self) -> anyhow::Result<()> {
        let truth = self.incidents.clone().unwrap_or_else(|| {
            let mut name = self.out.clone().into_os_string();
            name.push(".incidents.jsonl");
            PathBuf::from(name)
        });
        let incidents = write_logs(&self.out, &truth, self.lines, self.seed)?;
        eprintln!(
            "wrote {} lines to {} and {} incidents to {}",
            self.lines,
            self.out.display(),
            incidents.len(),
            truth.display()
        );
        Ok(())
    }
}
