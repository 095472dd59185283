//! Turns a stream of samples into blocks of windows. Window `t` is samples
//! `[t * hop, t * hop + window)`. A block's tensor holds the samples its windows span, with
//! the hop as row stride, so overlapping windows are not copied; the overlap with the next
//! block is kept as a tail so a sequential run reads every sample once.

use super::{InputError, READ_CHUNK, SampleSource};
use crate::plan::windows_in;
use crate::tensor::{Data, Tensor};

/// Frames windows out of a [`SampleSource`].
pub struct Framer {
    source: Box<dyn SampleSource>,
    window: usize,
    hop: usize,
    /// Samples `[tail_start, position)`, kept for the next block.
    tail: Vec<f32>,
    tail_start: u64,
    /// Where the source will read next.
    position: u64,
    /// Total samples, once the end has been seen (or known from the header).
    end: Option<u64>,
    samples_read: u64,
    /// A block's buffer handed back, to frame the next block into.
    spare: Vec<f32>,
}

impl std::fmt::Debug for Framer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framer")
            .field("source", &self.source.describe())
            .field("window", &self.window)
            .field("hop", &self.hop)
            .finish()
    }
}

impl Framer {
    /// Frames `source` into windows of `window` samples, `hop` apart.
    pub fn new(source: Box<dyn SampleSource>, window: usize, hop: usize) -> Framer {
        Framer {
            end: source.total_samples(),
            source,
            window,
            hop,
            tail: Vec::new(),
            tail_start: 0,
            position: 0,
            samples_read: 0,
            spare: Vec::new(),
        }
    }

    /// Takes back a block this framer made once nothing reads it, to reuse its buffer.
    pub fn recycle(&mut self, block: Tensor) {
        if let Data::F32(samples) = block.into_data() {
            self.spare = samples;
        }
    }

    /// The source, for messages.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// Samples per second the source records, if any.
    pub fn sample_rate(&self) -> Option<u32> {
        self.source.sample_rate()
    }

    /// Number of complete windows, when the length is known.
    pub fn total_windows(&self) -> Option<u64> {
        self.end.map(|n| windows_in(n, self.window, self.hop))
    }

    /// Samples in the whole input, when its length is known.
    pub fn total_samples(&self) -> Option<u64> {
        self.end
    }

    /// Samples read from the source so far (re-reads after a seek count again).
    pub fn samples_read(&self) -> u64 {
        self.samples_read
    }

    /// Windows `t0 ..` up to `max_rows` of them: fewer at the end of the input, none past it.
    pub fn frame(&mut self, t0: u64, max_rows: usize) -> Result<Tensor, InputError> {
        let start = t0.saturating_mul(self.hop as u64);
        let mut span = if max_rows == 0 {
            0
        } else {
            (max_rows as u64 - 1)
                .saturating_mul(self.hop as u64)
                .saturating_add(self.window as u64)
        };
        if let Some(end) = self.end {
            span = span.min(end.saturating_sub(start));
        }
        if span < self.window as u64 {
            return Ok(self.empty());
        }
        self.move_to(start)?;
        let span = usize::try_from(span).unwrap_or(usize::MAX);
        let mut samples = std::mem::take(&mut self.spare);
        samples.clear();
        samples.reserve(span.min(1 << 24));
        samples.extend_from_slice(&self.tail[(start - self.tail_start) as usize..]);
        while samples.len() < span {
            let want = span - samples.len();
            let n = self.source.read_into(&mut samples, want)?;
            self.position += n as u64;
            self.samples_read += n as u64;
            if n == 0 {
                self.end = Some(self.position);
                break;
            }
        }
        let rows = (windows_in(samples.len() as u64, self.window, self.hop) as usize).min(max_rows);
        // The next block starts `rows` hops later; keep whatever of it is already read.
        let next = start + (rows * self.hop) as u64;
        let keep = usize::try_from(next - start)
            .unwrap_or(usize::MAX)
            .min(samples.len());
        self.tail.clear();
        self.tail.extend_from_slice(&samples[keep..]);
        self.tail_start = start + keep as u64;
        match Tensor::strided(Data::F32(samples), rows, vec![self.window], self.hop) {
            Ok(tensor) => Ok(tensor),
            // `rows` was computed from the samples read, so they always cover the rows.
            Err(e) => unreachable!("framing arithmetic: {e}"),
        }
    }

    fn empty(&self) -> Tensor {
        Tensor::empty(&crate::tensor::Layout::new(
            crate::tensor::DType::F32,
            vec![self.window],
        ))
    }

    /// Positions the source so that the samples from `start` on are in the tail or next read.
    fn move_to(&mut self, start: u64) -> Result<(), InputError> {
        if (self.tail_start..=self.position).contains(&start) {
            return Ok(());
        }
        self.tail.clear();
        if self.source.seek(start)? {
            self.position = start;
        } else if start > self.position {
            // A stream that cannot seek can still skip forward.
            let mut discard = Vec::with_capacity(READ_CHUNK);
            while self.position < start {
                discard.clear();
                let want = usize::try_from(start - self.position).unwrap_or(usize::MAX);
                let n = self.source.read_into(&mut discard, want.min(READ_CHUNK))?;
                if n == 0 {
                    self.end = Some(self.position);
                    break;
                }
                self.position += n as u64;
                self.samples_read += n as u64;
            }
        } else {
            return Err(InputError::NotSeekable {
                path: self.source.describe(),
                position: start,
            });
        }
        self.tail_start = self.position.min(start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemorySource;
    use crate::io::RawF32Source;
    use proptest::prelude::*;

    fn stream(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    /// Windows built directly from the definition.
    fn expected_rows(
        samples: &[f32],
        window: usize,
        hop: usize,
        t0: u64,
        rows: usize,
    ) -> Vec<Vec<f32>> {
        (t0..t0 + rows as u64)
            .map(|t| {
                let s = t as usize * hop;
                samples[s..s + window].to_vec()
            })
            .collect()
    }

    fn rows_of(t: &Tensor) -> Vec<Vec<f32>> {
        let view = t.view();
        view.typed::<f32>()
            .expect("f32")
            .iter()
            .map(<[f32]>::to_vec)
            .collect()
    }

    proptest! {
        /// Any sequence of block requests, forward or backward, gives the windows of the
        /// definition, and the count stops at the last complete window.
        #[test]
        fn blocks_match_the_definition(
            n in 0usize..400,
            window in 1usize..40,
            hop in 1usize..50,
            requests in proptest::collection::vec((0u64..60, 0usize..20), 1..12),
        ) {
            let samples = stream(n);
            let total = windows_in(n as u64, window, hop);
            let mut framer = Framer::new(Box::new(MemorySource::new(samples.clone())), window, hop);
            prop_assert_eq!(framer.total_windows(), Some(total));
            for (t0, max_rows) in requests {
                let block = framer.frame(t0, max_rows).expect("frames");
                let rows = (total.saturating_sub(t0) as usize).min(max_rows);
                prop_assert_eq!(block.rows(), rows);
                prop_assert_eq!(rows_of(&block), expected_rows(&samples, window, hop, t0, rows));
            }
        }
    }

    #[test]
    fn sequential_blocks_read_each_sample_once() {
        let samples = stream(10_000);
        let mut framer = Framer::new(Box::new(MemorySource::new(samples)), 256, 64);
        let mut t = 0;
        loop {
            let block = framer.frame(t, 16).expect("frames");
            if block.rows() < 16 {
                break;
            }
            t += 16;
        }
        assert_eq!(framer.samples_read(), 10_000);
    }

    #[test]
    fn unseekable_stream_skips_forward_and_refuses_to_go_back() {
        let bytes: Vec<u8> = stream(1000).iter().flat_map(|v| v.to_le_bytes()).collect();
        let source = RawF32Source::from_reader("stdin", std::io::Cursor::new(bytes));
        let mut framer = Framer::new(Box::new(source), 10, 20);
        assert_eq!(framer.total_windows(), None);
        let block = framer.frame(3, 2).expect("frames");
        assert_eq!(rows_of(&block)[1][0], 80.0);
        let block = framer.frame(40, 100).expect("frames");
        assert_eq!(block.rows(), 10);
        assert_eq!(framer.total_windows(), Some(50));
        let err = framer.frame(0, 1).unwrap_err().to_string();
        assert_eq!(
            err,
            "stdin: cannot go back to sample 0; the input cannot seek"
        );
    }
}
