//! Entry points for the fuzz targets in `tests/fuzz` (cargo-fuzz) and for the test that
//! replays their corpus on every `cargo test`: each takes arbitrary bytes and must return
//! without panicking, whatever the bytes; where it can, it also checks an invariant.

use std::io::Write;

use crate::io::{LineSource, NpySource, RawF32Source, SampleSource, WavSource};
use crate::machine::Machine;
use crate::{Mode, Plan, Spec, WindowRange};

pub use crate::plugin::convert::fuzz_output as plugin_output;

/// Reads `source` to its end (or its first error), checking it never yields more samples
/// than `most`.
fn drain(mut source: Box<dyn SampleSource>, most: u64) {
    let mut out = Vec::new();
    let mut total = 0u64;
    while let Ok(n) = source.read_into(&mut out, 4096) {
        if n == 0 {
            break;
        }
        total += n as u64;
        assert!(total <= most, "{total} samples out of {most} bytes");
        out.clear();
    }
}

/// `bytes` in a temporary file (in RAM where `/dev/shm` exists).
fn temp_file(bytes: &[u8]) -> Option<tempfile::NamedTempFile> {
    let shm = std::path::Path::new("/dev/shm");
    let mut file = if shm.is_dir() {
        tempfile::NamedTempFile::new_in(shm).ok()?
    } else {
        tempfile::NamedTempFile::new().ok()?
    };
    file.write_all(bytes).ok()?;
    Some(file)
}

/// A WAV file and a WAV stream of these bytes, every channel choice.
pub fn wav(data: &[u8]) {
    let channel = data.first().map(|&b| usize::from(b % 3));
    let most = data.len() as u64;
    if let Ok(source) = WavSource::from_reader("fuzz", std::io::Cursor::new(data.to_vec()), channel)
    {
        drain(Box::new(source), most);
    }
    if let Some(file) = temp_file(data)
        && let Ok(source) = WavSource::open(file.path(), channel)
    {
        drain(Box::new(source), most);
    }
}

/// An `.npy` file of these bytes, and the same bytes as raw f32.
pub fn npy(data: &[u8]) {
    let Some(file) = temp_file(data) else {
        return;
    };
    if let Ok(source) = NpySource::open(file.path()) {
        drain(Box::new(source), data.len() as u64 / 4);
    }
    if let Ok(source) = RawF32Source::open(file.path()) {
        drain(Box::new(source), data.len() as u64 / 4);
    }
}

/// Lines of these bytes (the first two pick the line cap and the read buffer's size, so
/// lines and buffers cross in every way): every byte is accounted for, every line ends where
/// a `\n` is, and none is longer than the cap.
pub fn lines(data: &[u8]) {
    let (Some(&cap), Some(&buffer)) = (data.first(), data.get(1)) else {
        return;
    };
    let (max_line, buffer) = (usize::from(cap % 64) + 1, usize::from(buffer % 32) + 1);
    let body = &data[2..];
    let reader = std::io::BufReader::with_capacity(buffer, std::io::Cursor::new(body.to_vec()));
    let mut source = LineSource::from_reader("fuzz", reader).with_max_line(max_line);
    let mut out = crate::tensor::TextColumn::new();
    while let Ok(n) = source.read_lines(&mut out, 3) {
        if n == 0 {
            break;
        }
    }
    let stats = source.stats();
    let ends = body.iter().filter(|&&b| b == b'\n').count();
    let expected = ends + usize::from(!body.is_empty() && !body.ends_with(b"\n"));
    assert_eq!(out.len(), expected, "one line per line end");
    assert_eq!(stats.lines, expected as u64);
    assert_eq!(stats.bytes, body.len() as u64, "every byte read once");
    assert!(stats.invalid_utf8 <= stats.lines && stats.truncated <= stats.lines);
    for line in out.iter() {
        assert!(!line.contains('\n'), "a line end inside a line");
        // Each byte kept becomes one char at most (a bad byte becomes one U+FFFD).
        assert!(line.chars().count() <= max_line, "a line over the cap");
    }
}

/// A pipeline from RON text, planned for a fixed machine and several input lengths; when
/// it plans and is small, run in classic and sqrt mode over a short input, which must agree
/// bit for bit. (Plugin stages are skipped: loading one reads a file the text names.)
pub fn pipeline(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("Plugin") {
        return;
    }
    let Ok(spec) = Spec::from_ron(text, "fuzz") else {
        return;
    };
    let machine = Machine {
        total_ram: 16 << 30,
        available_ram: 8 << 30,
        l2_bytes: 1 << 20,
        llc_bytes: 32 << 20,
        cores: 2,
        fresh_ns_per_byte: 0.8,
        source: "fuzz".into(),
    };
    for windows in [None, Some(0), Some(1), Some(1_000_000), Some(u64::MAX)] {
        let _ = Plan::for_machine(&spec, windows, machine.clone());
    }
    if spec.window > 64 || spec.hop > 64 || spec.stages.len() > 8 {
        return;
    }
    let samples: Vec<f32> = (0..400)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
        .collect();
    let mut outputs = Vec::new();
    for (mode, workers) in [(Mode::Classic, 1), (Mode::Sqrt, 1), (Mode::Sqrt, 3)] {
        let mut spec = spec.clone();
        spec.mode = mode;
        spec.max_workers = Some(workers);
        let Ok(plan) = Plan::for_machine(&spec, None, machine.clone()) else {
            return;
        };
        outputs.push(crate::evaluate(&plan, samples.clone(), WindowRange::all()));
    }
    if let [Ok(classic), rest @ ..] = &outputs[..] {
        for other in rest {
            match other {
                Ok(other) => assert!(classic.bit_identical(other), "classic and sqrt disagree"),
                Err(e) => panic!("classic ran, sqrt failed: {e}"),
            }
        }
    }
}
