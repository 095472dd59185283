//! Deterministic synthetic audio for tests, demos and benchmarks: a steady tone, a tone that
//! pulses on and off, a repeating chirp, a burst above the usual analysis band and seeded
//! white noise. Sample `n` depends only on `n` and the seed, so any length and any chunking
//! produce the same samples, and a file of any length is written in constant memory.

use std::f64::consts::TAU;
use std::io::Write;
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use sqrtspace::io::{OutputError, write_atomically};

pub mod logs;

/// Streams synthetic audio.
#[derive(Debug)]
pub struct AudioGenerator {
    sample_rate: f64,
    rate: u64,
    position: u64,
    noise: ChaCha8Rng,
}

/// How long one chirp sweep lasts, in seconds.
pub const CHIRP_PERIOD_S: f64 = 30.0;

impl AudioGenerator {
    /// A generator at `sample_rate` whose noise comes from `seed`.
    pub fn new(sample_rate: u32, seed: u64) -> AudioGenerator {
        AudioGenerator {
            sample_rate: f64::from(sample_rate),
            rate: u64::from(sample_rate.max(1)),
            position: 0,
            noise: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The clean signal (no noise) at sample `n`.
    ///
    /// Phases are reduced to one cycle in integer arithmetic before the sine, so sample `n` of
    /// a day-long stream costs what sample 0 costs and is as precise.
    pub fn tone(&self, n: u64) -> f64 {
        let rate = self.rate;
        // sin(2π f n / rate) for an integer frequency f, with f n reduced modulo rate.
        let sine = |hz: u64| (TAU * ((hz * (n % rate)) % rate) as f64 / rate as f64).sin();
        let within = |n: u64, period_s: u64, on_s: u64| n % (period_s * rate) < on_s * rate;
        let steady = 0.2 * sine(440);
        let pulsed = if within(n, 10, 2) {
            0.25 * sine(1000)
        } else {
            0.0
        };
        let tau = (n % (CHIRP_PERIOD_S as u64 * rate)) as f64 / self.sample_rate;
        let (f0, f1) = (100.0, 4000.0);
        let chirp = 0.3 * (TAU * (f0 * tau + (f1 - f0) * tau * tau / (2.0 * CHIRP_PERIOD_S))).sin();
        let high = if within(n, 7, 1) {
            0.1 * sine(6000)
        } else {
            0.0
        };
        steady + pulsed + chirp + high
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [f32]) {
        for x in out.iter_mut() {
            let noise = f64::from(self.noise.next_u32() >> 8) / f64::from(1u32 << 24) - 0.5;
            *x = (self.tone(self.position) + 0.1 * noise) as f32;
            self.position += 1;
        }
    }
}

/// File formats `gen audio` writes.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
pub enum AudioFormat {
    /// 16-bit PCM WAV.
    Wav16,
    /// 32-bit float WAV.
    WavF32,
    /// Little-endian f32 with no header.
    RawF32,
}

impl AudioFormat {
    /// The format a file name suggests.
    pub fn from_path(path: &Path) -> Option<AudioFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "wav" => Some(AudioFormat::Wav16),
            "f32" | "raw" => Some(AudioFormat::RawF32),
            _ => None,
        }
    }
}

const CHUNK: usize = 1 << 16;

/// Writes `samples` samples of synthetic audio as little-endian f32 to `out` (stdout, a pipe),
/// a chunk at a time.
pub fn write_raw_f32(
    out: &mut impl Write,
    samples: u64,
    sample_rate: u32,
    seed: u64,
) -> std::io::Result<()> {
    write_samples(out, samples, sample_rate, seed, false)
}

/// Generated samples as little-endian bytes, a chunk at a time: f32, or 16-bit PCM.
fn write_samples(
    out: &mut impl Write,
    samples: u64,
    sample_rate: u32,
    seed: u64,
    pcm: bool,
) -> std::io::Result<()> {
    let mut generator = AudioGenerator::new(sample_rate, seed);
    let mut buf = vec![0.0f32; CHUNK];
    let mut bytes = Vec::with_capacity(CHUNK * 4);
    let mut left = samples;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        generator.fill(&mut buf[..n]);
        bytes.clear();
        if pcm {
            bytes.extend(buf[..n].iter().flat_map(|&v| pcm16(v).to_le_bytes()));
        } else {
            bytes.extend(buf[..n].iter().flat_map(|v| v.to_le_bytes()));
        }
        out.write_all(&bytes)?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes `samples` samples of synthetic audio to `path`, via a temporary file renamed into
/// place at the end.
pub fn write_audio(
    path: &Path,
    format: AudioFormat,
    samples: u64,
    sample_rate: u32,
    seed: u64,
) -> Result<(), OutputError> {
    let float = format == AudioFormat::WavF32;
    let bytes_per_sample = if float { 4 } else { 2 };
    if format != AudioFormat::RawF32 && samples * bytes_per_sample > u64::from(u32::MAX) - 64 {
        return Err(OutputError::Unsupported {
            path: path.display().to_string(),
            message: format!(
                "{samples} samples do not fit in a WAV file (4 GiB at most); write raw-f32 instead"
            ),
        });
    }
    write_atomically(path, |out| match format {
        AudioFormat::RawF32 => write_raw_f32(out, samples, sample_rate, seed),
        AudioFormat::Wav16 | AudioFormat::WavF32 => {
            write_wav(out, float, samples, sample_rate, seed).map_err(|e| match e {
                hound::Error::IoError(source) => source,
                other => std::io::Error::other(other.to_string()),
            })
        }
    })
}

/// Writes `samples` samples of synthetic audio as a WAV stream to `out` (stdout, a pipe):
/// the header hound writes for a file, with the lengths filled in up front, since a stream
/// cannot be patched (0xFFFFFFFF, "read to the end", when they do not fit in 32 bits), then
/// the samples as they are generated.
pub fn write_wav_stream(
    out: &mut impl Write,
    float: bool,
    samples: u64,
    sample_rate: u32,
    seed: u64,
) -> std::io::Result<()> {
    let mut header = std::io::Cursor::new(Vec::new());
    hound::WavWriter::new(&mut header, wav_spec(float, sample_rate))
        .and_then(hound::WavWriter::finalize)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut header = header.into_inner();
    let bytes_per_sample = if float { 4 } else { 2 };
    let data = samples
        .checked_mul(bytes_per_sample)
        .and_then(|d| u32::try_from(d).ok())
        .filter(|&d| d.checked_add(header.len() as u32).is_some());
    let riff = data.map_or(u32::MAX, |d| d + header.len() as u32 - 8);
    let at = header.len() - 4;
    header[4..8].copy_from_slice(&riff.to_le_bytes());
    header[at..].copy_from_slice(&data.unwrap_or(u32::MAX).to_le_bytes());
    out.write_all(&header)?;
    write_samples(out, samples, sample_rate, seed, !float)
}

/// A sample as 16-bit PCM.
fn pcm16(v: f32) -> i16 {
    (f64::from(v) * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

fn wav_spec(float: bool, sample_rate: u32) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: if float { 32 } else { 16 },
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

fn write_wav(
    out: &mut std::io::BufWriter<&std::fs::File>,
    float: bool,
    samples: u64,
    sample_rate: u32,
    seed: u64,
) -> Result<(), hound::Error> {
    let spec = wav_spec(float, sample_rate);
    let mut generator = AudioGenerator::new(sample_rate, seed);
    let mut buf = vec![0.0f32; CHUNK];
    let mut left = samples;
    let mut writer = hound::WavWriter::new(out, spec)?;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        generator.fill(&mut buf[..n]);
        if float {
            for &v in &buf[..n] {
                writer.write_sample(v)?;
            }
        } else {
            // n <= CHUNK, which fits in u32.
            let mut block = writer.get_i16_writer(n as u32);
            for &v in &buf[..n] {
                block.write_sample(pcm16(v));
            }
            block.flush()?;
        }
        left -= n as u64;
    }
    writer.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_chunking_gives_the_same_samples() {
        let mut whole = vec![0.0f32; 5000];
        AudioGenerator::new(48_000, 3).fill(&mut whole);
        let mut parts = AudioGenerator::new(48_000, 3);
        let mut joined = Vec::new();
        for size in [1usize, 17, 999, 3983] {
            let mut buf = vec![0.0f32; size];
            parts.fill(&mut buf);
            joined.extend(buf);
        }
        assert_eq!(whole, joined);
        let mut other = vec![0.0f32; 5000];
        AudioGenerator::new(48_000, 4).fill(&mut other);
        assert_ne!(whole, other, "the seed changes the noise");
        assert!(whole.iter().all(|v| v.abs() < 1.0));
    }

    #[test]
    fn reduced_phases_match_the_textbook_formula() {
        let g = AudioGenerator::new(48_000, 1);
        let naive = |n: u64| {
            let t = n as f64 / 48_000.0;
            let on = |period: f64, len: f64| t % period < len;
            0.2 * (TAU * 440.0 * t).sin()
                + if on(10.0, 2.0) {
                    0.25 * (TAU * 1000.0 * t).sin()
                } else {
                    0.0
                }
                + 0.3 * {
                    let tau = t % CHIRP_PERIOD_S;
                    (TAU * (100.0 * tau + 3900.0 * tau * tau / (2.0 * CHIRP_PERIOD_S))).sin()
                }
                + if on(7.0, 1.0) {
                    0.1 * (TAU * 6000.0 * t).sin()
                } else {
                    0.0
                }
        };
        for n in [
            0u64,
            1,
            47_999,
            96_000,
            479_999,
            480_000,
            1_234_567,
            48_000 * 3600 + 17,
        ] {
            assert!((g.tone(n) - naive(n)).abs() < 1e-6, "sample {n}");
        }
    }

    #[test]
    fn writes_wav_and_raw_of_exact_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wav = dir.path().join("a.wav");
        write_audio(&wav, AudioFormat::Wav16, 70_001, 8000, 1).expect("writes");
        let reader = hound::WavReader::open(&wav).expect("wav");
        assert_eq!((reader.len(), reader.spec().sample_rate), (70_001, 8000));
        let raw = dir.path().join("a.f32");
        write_audio(&raw, AudioFormat::RawF32, 1000, 8000, 1).expect("writes");
        assert_eq!(std::fs::metadata(&raw).expect("meta").len(), 4000);
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            2,
            "no temporary files left"
        );
    }
}
