//! The hand-written floor of each workload: `pipelines/audio-native.ron` and `pipelines/logs.ron`
//! as plain Rust loops, no framework — no planner, executor, tensors, sinks or Wasm — over the
//! same math (`sqrtspace-kernels`, realfft), so every performance figure of sqrtspace can stand
//! beside "× the floor" measured in the same sitting. The outputs are the pipelines' own: the
//! audio floor writes the classifier's rows as `.npy` with the bits `sqrtspace run` writes, the
//! logs floor the alert lines byte for byte (`bench/compare/run_floor.py` checks both).
//!
//! ```text
//! floor audio IN.wav OUT.npy [--threads N]     # 16-bit PCM mono, as `sqrtspace gen audio` writes
//! floor logs IN.log OUT.jsonl [--threads N]
//! ```
//!
//! It prints `{"wall_secs", "peak_rss_bytes", "windows"}` as JSON. With N threads, the audio
//! floor gives each thread a contiguous run of windows (read with its own file handle) for the
//! pure part — window, FFT, band, magnitude, features — and runs the IIR and the classifier,
//! which carry state from window to window, over all of them after; the logs floor cuts the
//! file into blocks of whole windows on the main thread (counting newlines) and hands them to
//! N threads that split, parse and count them, then rolls and alerts in order. The pipeline
//! files give only the parameters. (The logs floor does not cut lines past 1 MiB, which
//! generated logs never have.)

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use realfft::RealFftPlanner;
use realfft::num_complex::Complex32;
use sqrtspace::spec::OpSpec;
use sqrtspace_kernels::logs::{self, AlertParams, Parser, RollingParams, Span, field, stat};
use sqrtspace_kernels::{features, iir, mlp};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = match args.iter().position(|a| a == "--threads") {
        Some(i) => args.get(i + 1).ok_or("--threads needs a number")?.parse()?,
        None => 1,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let started = Instant::now();
    let windows = match args.as_slice() {
        [what, input, output, ..] if what == "audio" => audio(
            &root.join("pipelines/audio-native.ron"),
            input.as_ref(),
            output.as_ref(),
            threads,
        )?,
        [what, input, output, ..] if what == "logs" => logs(
            &root.join("pipelines/logs.ron"),
            input.as_ref(),
            output.as_ref(),
            threads,
        )?,
        _ => return Err("usage: floor audio|logs INPUT OUTPUT [--threads N]".into()),
    };
    let wall = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    println!(
        r#"{{"wall_secs": {wall}, "peak_rss_bytes": {}, "windows": {windows}}}"#,
        peak_kib * 1024
    );
    Ok(())
}

/// The stages of a pipeline file, by name.
fn ops(pipeline: &Path) -> Result<(sqrtspace::Spec, Vec<(String, OpSpec)>), Error> {
    let spec = sqrtspace::Spec::from_file(pipeline)?;
    let ops = spec
        .stages
        .iter()
        .map(|s| (s.name.clone(), s.op.clone()))
        .collect();
    Ok((spec, ops))
}

fn op<'a>(ops: &'a [(String, OpSpec)], name: &str) -> Result<&'a OpSpec, Error> {
    Ok(&ops
        .iter()
        .find(|(n, _)| n == name)
        .ok_or_else(|| format!("the pipeline has no stage `{name}`"))?
        .1)
}

/// Where the samples of a 16-bit PCM mono WAV file start, and how many there are.
fn wav_data(path: &Path) -> Result<(u64, u64), Error> {
    let mut file = BufReader::new(File::open(path)?);
    let mut header = [0u8; 12];
    file.read_exact(&mut header)?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err(format!("{}: not a WAV file", path.display()).into());
    }
    let mut at = 12u64;
    loop {
        let mut chunk = [0u8; 8];
        file.read_exact(&mut chunk)?;
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        at += 8;
        if &chunk[0..4] == b"fmt " {
            let mut fmt = vec![0u8; size as usize];
            file.read_exact(&mut fmt)?;
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            if channels != 1 || bits != 16 {
                return Err("the floor reads 16-bit mono WAV only".into());
            }
        } else if &chunk[0..4] == b"data" {
            return Ok((at, size / 2));
        } else {
            file.seek_relative(size as i64)?;
        }
        at += size + (size & 1);
        if size & 1 == 1 {
            file.seek_relative(1)?;
        }
    }
}

/// Window, FFT, band, magnitude and features of windows `first..end`, read from `path`.
fn audio_features(
    path: &Path,
    data: u64,
    (window, hop): (usize, usize),
    band: std::ops::Range<usize>,
    (first_hz, step_hz): (f64, f64),
    windows: std::ops::Range<usize>,
) -> Result<Vec<[f32; 4]>, Error> {
    const BLOCK: usize = 64;
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(window);
    let hann: Vec<f32> = (0..window)
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * i as f64 / window as f64;
            (0.5 - 0.5 * phase.cos()) as f32
        })
        .collect();
    let (mut work, mut spectrum, mut scratch) = (
        fft.make_input_vec(),
        fft.make_output_vec(),
        fft.make_scratch_vec(),
    );
    let mut magnitudes = vec![0f32; band.len()];
    let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
    file.seek(SeekFrom::Start(data + 2 * (windows.start * hop) as u64))?;
    let mut samples: Vec<f32> = Vec::new();
    let mut bytes = Vec::new();
    let mut out = Vec::with_capacity(windows.len());
    let mut t = windows.start;
    while t < windows.end {
        let n = BLOCK.min(windows.end - t);
        // Samples of windows t..t+n: keep what the last block left, read the rest.
        let need = (n - 1) * hop + window;
        bytes.resize(2 * (need - samples.len()), 0);
        file.read_exact(&mut bytes)?;
        samples.extend(
            bytes
                .chunks_exact(2)
                .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0),
        );
        for w in 0..n {
            let frame = &samples[w * hop..w * hop + window];
            for ((x, &s), &c) in work.iter_mut().zip(frame).zip(&hann) {
                *x = s * c;
            }
            fft.process_with_scratch(&mut work, &mut spectrum, &mut scratch)?;
            for (m, z) in magnitudes.iter_mut().zip(&spectrum[band.clone()]) {
                let z: &Complex32 = z;
                *m = (z.re * z.re + z.im * z.im).sqrt();
            }
            out.push(features::features(&magnitudes, first_hz, step_hz));
        }
        samples.drain(..n * hop);
        t += n;
    }
    Ok(out)
}

fn audio(pipeline: &Path, input: &Path, output: &Path, threads: usize) -> Result<u64, Error> {
    let (spec, ops) = ops(pipeline)?;
    let (window, hop, rate) = (spec.window, spec.hop, f64::from(spec.sample_rate));
    let OpSpec::Bandpass(band) = op(&ops, "bandpass")? else {
        return Err("`bandpass` is not a Bandpass".into());
    };
    let OpSpec::Iir(smooth) = op(&ops, "smooth")? else {
        return Err("`smooth` is not an Iir".into());
    };
    let OpSpec::Mlp(classify) = op(&ops, "classify")? else {
        return Err("`classify` is not an Mlp".into());
    };
    let step_hz = rate / window as f64;
    let bins: Vec<usize> = (0..window / 2 + 1)
        .filter(|&i| (band.lo_hz..=band.hi_hz).contains(&(i as f64 * step_hz)))
        .collect();
    let band_bins = bins[0]..bins[bins.len() - 1] + 1;
    let first_hz = band_bins.start as f64 * step_hz;
    let (data, samples) = wav_data(input)?;
    let total = if samples < window as u64 {
        0
    } else {
        ((samples - window as u64) / hop as u64 + 1) as usize
    };
    let per = total.div_ceil(threads.max(1)).max(1);
    let parts: Vec<Vec<[f32; 4]>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..total)
            .step_by(per)
            .map(|start| {
                let range = start..(start + per).min(total);
                let band_bins = band_bins.clone();
                scope.spawn(move || {
                    audio_features(
                        input,
                        data,
                        (window, hop),
                        band_bins,
                        (first_hz, step_hz),
                        range,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| Error::from("a thread panicked"))?)
            .collect::<Result<_, Error>>()
    })?;
    // The kernels, in window order: the IIR over the features, the classifier over both.
    let sections = smooth.filter.sections(rate / hop as f64)?;
    let mut state = iir::State::new(4, sections.len(), smooth.start);
    let net = mlp::Network::new(classify, 8)?;
    let mut work = net.work();
    let mut file = BufWriter::new(File::create(output)?);
    let outputs = net.outputs();
    let header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({total}, {outputs}), }}");
    let pad = 64 - (10 + header.len() + 1) % 64;
    file.write_all(b"\x93NUMPY\x01\x00")?;
    file.write_all(&((header.len() + pad + 1) as u16).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    file.write_all(&vec![b' '; pad])?;
    file.write_all(b"\n")?;
    let (mut smoothed, mut y) = ([0f32; 4], vec![0f32; outputs]);
    for f in parts.iter().flatten() {
        iir::filter_row(&sections, &mut state, f, &mut smoothed);
        let x = net.input(&mut work);
        x[..4].copy_from_slice(f);
        x[4..].copy_from_slice(&smoothed);
        net.run(&mut work, &mut y);
        for v in &y {
            file.write_all(&v.to_le_bytes())?;
        }
    }
    file.flush()?;
    Ok(total as u64)
}

/// A block of the file holding whole windows of lines (the last block: what is left).
struct Lines {
    index: usize,
    bytes: Vec<u8>,
}

/// Splits a block into lines (`\n` ends one, as does `\r\n`; the file's last line may have
/// neither), parses them and counts each whole window of `window` lines.
fn window_stats(parser: &Parser, lines: &Lines, window: usize) -> Vec<[f64; stat::COUNT]> {
    let mut parsed = Vec::with_capacity(window * field::COUNT);
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    let bytes = &lines.bytes;
    let mut ends: Vec<(usize, usize)> = memchr::memchr_iter(b'\n', bytes)
        .map(|i| (i, i + 1))
        .collect();
    if ends.last().map_or(0, |&(_, next)| next) < bytes.len() {
        ends.push((bytes.len(), bytes.len()));
    }
    // One SIMD UTF-8 check of the whole block; line by line only where it fails.
    let text = simdutf8::basic::from_utf8(bytes).ok();
    let mut start = 0;
    for (i, &(end, next)) in ends.iter().enumerate() {
        let mut line = &bytes[start..end];
        if next > end && line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let fields = match text.and_then(|t| t.get(start..start + line.len())) {
            Some(text) => parser.parse(text),
            None => match std::str::from_utf8(line) {
                Ok(text) => parser.parse(text),
                Err(_) => parser.parse(&String::from_utf8_lossy(line)),
            },
        };
        start = next;
        parsed.extend_from_slice(&fields);
        if (i + 1) % window == 0 {
            out.push(logs::window_stats(&parsed, &mut scratch));
            parsed.clear();
        }
    }
    out
}

fn logs(pipeline: &Path, input: &Path, output: &Path, threads: usize) -> Result<u64, Error> {
    const WINDOWS_PER_BLOCK: usize = 8;
    let (spec, ops) = ops(pipeline)?;
    let window = spec.window;
    let params = |name: &str| -> Result<String, Error> {
        match op(&ops, name)? {
            OpSpec::Plugin(p) => Ok(p
                .params
                .as_ref()
                .map_or("()".into(), |v| v.get_ron().to_string())),
            _ => Err(format!("`{name}` is not a plugin stage").into()),
        }
    };
    if spec.hop != window {
        return Err("the logs floor reads windows back to back (hop = window)".into());
    }
    // Parameters read as the SDK reads them for the plugins.
    let options = ron::Options::default().with_default_extension(
        ron::extensions::Extensions::IMPLICIT_SOME
            | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
    );
    let parser = match op(&ops, "parse")? {
        OpSpec::LogParse(p) => Parser::new(p)?,
        _ => Parser::new(&options.from_str(&params("parse")?)?)?,
    };
    let rolling: RollingParams = options.from_str(&params("rolling")?)?;
    let alert: AlertParams = options.from_str(&params("alerts")?)?;
    let (blocks_tx, blocks_rx) = mpsc::sync_channel::<Lines>(threads * 2);
    let blocks_rx = std::sync::Mutex::new(blocks_rx);
    let (stats_tx, stats_rx) = mpsc::channel::<(usize, Vec<[f64; stat::COUNT]>)>();
    let mut all: Vec<Vec<[f64; stat::COUNT]>> = Vec::new();
    std::thread::scope(|scope| -> Result<(), Error> {
        for _ in 0..threads.max(1) {
            // A parser per thread: it keeps its regex's scratch space.
            let (rx, tx, parser) = (&blocks_rx, stats_tx.clone(), parser.clone());
            scope.spawn(move || {
                loop {
                    let block = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(block) = block else { return };
                    let stats = window_stats(&parser, &block, window);
                    if tx.send((block.index, stats)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(stats_tx);
        // The main thread only cuts the file into blocks of whole windows, counting newlines;
        // the parsing threads split and parse the lines.
        let mut file = File::open(input)?;
        let mut chunk = vec![0u8; 1 << 16];
        let (mut block, mut lines, mut index) = (Vec::new(), 0, 0);
        let per_block = window * WINDOWS_PER_BLOCK;
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            let mut rest = &chunk[..n];
            loop {
                let mut newlines = memchr::memchr_iter(b'\n', rest);
                match newlines.nth(per_block - lines - 1) {
                    Some(at) => {
                        block.extend_from_slice(&rest[..=at]);
                        rest = &rest[at + 1..];
                        // The next block is about as large: one allocation for it.
                        let size = block.len();
                        let bytes = std::mem::replace(&mut block, Vec::with_capacity(size));
                        blocks_tx.send(Lines { index, bytes })?;
                        (lines, index) = (0, index + 1);
                    }
                    None => {
                        lines += memchr::memchr_iter(b'\n', rest).count();
                        block.extend_from_slice(rest);
                        break;
                    }
                }
            }
        }
        blocks_tx.send(Lines {
            index,
            bytes: block,
        })?;
        drop(blocks_tx);
        for (index, stats) in stats_rx {
            if all.len() <= index {
                all.resize(index + 1, Vec::new());
            }
            all[index] = stats;
        }
        Ok(())
    })?;
    let stats: Vec<[f64; stat::COUNT]> = all.into_iter().flatten().collect();
    let mut out = BufWriter::new(File::create(output)?);
    for (w, s) in stats.iter().enumerate() {
        let first = (w + 1).saturating_sub(rolling.windows);
        let rolled = logs::rolling(&stats[first..=w], first as u64);
        let at = Span {
            window: w as u64,
            lines: window as u64,
            hop: spec.hop as u64,
        };
        for event in logs::alerts(at, &rolled, s, &alert) {
            if !event.is_empty() {
                out.write_all(event.as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(stats.len() as u64)
}
