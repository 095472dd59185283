//! FLAC input, decoded by flac-codec: a file can seek (to any sample, through its seek table
//! or by decoding forward), a stream (stdin, a decompressed file) is read once.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flac_codec::decode::FlacSampleReader;
use flac_codec::metadata::Metadata;

use super::wav::pick_channel;
use super::{InputError, READ_CHUNK, SampleSource};

enum Decoder {
    File(FlacSampleReader<BufReader<File>>),
    Stream(FlacSampleReader<Box<dyn Read + Send>>),
}

/// One channel of a FLAC file or stream, as f32: integer samples of `b` bits divided by
/// 2^(b-1), the same values the WAV reader gives for the same samples in PCM.
pub struct FlacSource {
    name: String,
    decoder: Decoder,
    channels: usize,
    channel: usize,
    scale: f32,
    sample_rate: u32,
    total: Option<u64>,
    buf: Vec<i32>,
    /// Set by a seek to the end, which the decoder refuses: reads then give nothing.
    at_end: bool,
}

impl std::fmt::Debug for FlacSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlacSource")
            .field("name", &self.name)
            .field("channels", &self.channels)
            .finish()
    }
}

fn format_error(name: &str, e: impl std::fmt::Display) -> InputError {
    InputError::Format {
        path: name.to_string(),
        message: format!("not a FLAC file we can read: {e}"),
    }
}

impl FlacSource {
    /// Opens a FLAC file; `channel` picks one channel of a multi-channel file (required then).
    pub fn open(path: &Path, channel: Option<usize>) -> Result<FlacSource, InputError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| InputError::Open {
            path: name.clone(),
            source,
        })?;
        let reader = FlacSampleReader::new_seekable(BufReader::with_capacity(1 << 16, file))
            .map_err(|e| format_error(&name, e))?;
        FlacSource::new(name, Decoder::File(reader), channel)
    }

    /// Reads a FLAC stream that cannot seek (stdin, a decompressed file).
    pub fn from_reader(
        name: &str,
        reader: impl Read + Send + 'static,
        channel: Option<usize>,
    ) -> Result<FlacSource, InputError> {
        let reader: Box<dyn Read + Send> = Box::new(reader);
        let reader = FlacSampleReader::new(reader).map_err(|e| format_error(name, e))?;
        FlacSource::new(name.to_string(), Decoder::Stream(reader), channel)
    }

    fn new(
        name: String,
        decoder: Decoder,
        channel: Option<usize>,
    ) -> Result<FlacSource, InputError> {
        let (channels, bits, sample_rate, total) = match &decoder {
            Decoder::File(r) => (
                r.channel_count(),
                r.bits_per_sample(),
                r.sample_rate(),
                r.total_samples(),
            ),
            Decoder::Stream(r) => (
                r.channel_count(),
                r.bits_per_sample(),
                r.sample_rate(),
                r.total_samples(),
            ),
        };
        let channels = usize::from(channels).max(1);
        let channel = pick_channel(&name, channels, channel)?;
        if !(1..=32).contains(&bits) {
            return Err(format_error(&name, format!("{bits} bits per sample")));
        }
        Ok(FlacSource {
            name,
            decoder,
            channels,
            channel,
            scale: (1u64 << (bits - 1)) as f32,
            sample_rate,
            total,
            buf: Vec::new(),
            at_end: false,
        })
    }
}

impl SampleSource for FlacSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn total_samples(&self) -> Option<u64> {
        self.total
    }

    fn sample_rate(&self) -> Option<u32> {
        Some(self.sample_rate)
    }

    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError> {
        if self.at_end {
            return Ok(0);
        }
        // Whole frames (one sample of every channel) only: the decoder hands out whole
        // frames, and a buffer of whole frames takes them whole.
        self.buf.resize(max.min(READ_CHUNK) * self.channels, 0);
        let n = match &mut self.decoder {
            Decoder::File(r) => r.read(&mut self.buf),
            Decoder::Stream(r) => r.read(&mut self.buf),
        }
        .map_err(|e| InputError::Format {
            path: self.name.clone(),
            message: format!("cannot decode FLAC: {e}"),
        })?;
        let (channel, scale) = (self.channel, self.scale);
        out.extend(
            self.buf[..n]
                .chunks_exact(self.channels)
                .map(|frame| frame[channel] as f32 / scale),
        );
        Ok(n / self.channels)
    }

    fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        let Decoder::File(reader) = &mut self.decoder else {
            return Ok(false);
        };
        self.at_end = self.total.is_some_and(|n| position >= n);
        if self.at_end {
            return Ok(true);
        }
        reader.seek(position).map_err(|e| InputError::Format {
            path: self.name.clone(),
            message: format!("cannot seek to sample {position}: {e}"),
        })?;
        Ok(true)
    }

    fn seekable(&self) -> bool {
        matches!(self.decoder, Decoder::File(_))
    }
}
