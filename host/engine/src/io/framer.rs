//! Turns a stream of records (samples, or lines of text) into blocks of windows. Window `t`
//! is records `[t * hop, t * hop + window)`. A block's tensor holds the records its windows
//! span, with the hop as row stride, so overlapping windows are not copied; the overlap with
//! the next block is kept as a tail so a sequential run reads every record once.

use super::{InputError, LineSource, LineStats, READ_CHUNK, SampleSource};
use crate::tensor::{DType, Data, Layout, Tensor, TextColumn};

/// Most block buffers a framer keeps for reuse: a batch of a parallel sweep hands back one
/// per part (its memory is bounded by the planner's batch budget).
const SPARES: usize = 64;

/// Records held for a block: samples in a vector, lines in a [`TextColumn`].
trait Buffer: Default + Send {
    const DTYPE: DType;
    fn len(&self) -> usize;
    fn clear(&mut self);
    fn reserve(&mut self, records: usize);
    /// Appends `other`'s records from `from` on.
    fn extend_from(&mut self, other: &Self, from: usize);
    fn wrap(self) -> Data;
    fn unwrap(data: Data) -> Option<Self>;
}

impl Buffer for Vec<f32> {
    const DTYPE: DType = DType::F32;
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn clear(&mut self) {
        Vec::clear(self)
    }
    fn reserve(&mut self, records: usize) {
        Vec::reserve(self, records)
    }
    fn extend_from(&mut self, other: &Self, from: usize) {
        self.extend_from_slice(&other[from..])
    }
    fn wrap(self) -> Data {
        Data::F32(self)
    }
    fn unwrap(data: Data) -> Option<Self> {
        match data {
            Data::F32(values) => Some(values),
            _ => None,
        }
    }
}

impl Buffer for TextColumn {
    const DTYPE: DType = DType::Text;
    fn len(&self) -> usize {
        TextColumn::len(self)
    }
    fn clear(&mut self) {
        TextColumn::clear(self)
    }
    fn reserve(&mut self, records: usize) {
        TextColumn::reserve(self, records, 0)
    }
    fn extend_from(&mut self, other: &Self, from: usize) {
        TextColumn::extend_from(self, other.as_slice().sub(from..other.len()))
    }
    fn wrap(self) -> Data {
        Data::Text(self)
    }
    fn unwrap(data: Data) -> Option<Self> {
        match data {
            Data::Text(values) => Some(values),
            _ => None,
        }
    }
}

/// A forward stream of records that may be able to reposition.
trait Records<B>: Send {
    fn describe(&self) -> String;
    fn total(&self) -> Option<u64>;
    fn read_into(&mut self, out: &mut B, max: usize) -> Result<usize, InputError>;
    fn seek(&mut self, position: u64) -> Result<bool, InputError>;
}

impl Records<Vec<f32>> for Box<dyn SampleSource> {
    fn describe(&self) -> String {
        self.as_ref().describe()
    }
    fn total(&self) -> Option<u64> {
        self.total_samples()
    }
    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError> {
        self.as_mut().read_into(out, max)
    }
    fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        self.as_mut().seek(position)
    }
}

impl Records<TextColumn> for LineSource {
    fn describe(&self) -> String {
        LineSource::describe(self).to_string()
    }
    fn total(&self) -> Option<u64> {
        None
    }
    fn read_into(&mut self, out: &mut TextColumn, max: usize) -> Result<usize, InputError> {
        self.read_lines(out, max)
    }
    fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        self.seek_line(position)
    }
}

/// The framing of one kind of record.
struct Frames<B, S> {
    source: S,
    window: usize,
    hop: usize,
    /// Records `[tail_start, position)`, kept for the next block.
    tail: B,
    tail_start: u64,
    /// Where the source will read next.
    position: u64,
    /// Total records, once the end has been seen (or known from the header).
    end: Option<u64>,
    read: u64,
    /// Blocks' buffers handed back, to frame the next blocks into (at most `spares`).
    spare: Vec<B>,
    spares: usize,
    /// What the records are called in messages.
    unit: &'static str,
}

impl<B: Buffer, S: Records<B>> Frames<B, S> {
    fn new(source: S, window: usize, hop: usize, unit: &'static str) -> Self {
        Frames {
            end: source.total(),
            source,
            window,
            hop,
            tail: B::default(),
            tail_start: 0,
            position: 0,
            read: 0,
            spare: Vec::new(),
            spares: SPARES,
            unit,
        }
    }

    fn frame(&mut self, t0: u64, max_rows: usize) -> Result<Tensor, InputError> {
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
            return Ok(Tensor::empty(&Layout::new(B::DTYPE, vec![self.window])));
        }
        self.move_to(start)?;
        let span = usize::try_from(span).unwrap_or(usize::MAX);
        let mut records = self.spare.pop().unwrap_or_default();
        records.clear();
        records.reserve(span.min(1 << 24));
        records.extend_from(&self.tail, (start - self.tail_start) as usize);
        while records.len() < span {
            let want = span - records.len();
            let n = self.source.read_into(&mut records, want)?;
            self.position += n as u64;
            self.read += n as u64;
            if n == 0 {
                self.end = Some(self.position);
                break;
            }
        }
        let rows = (windows_in(records.len() as u64, self.window, self.hop) as usize).min(max_rows);
        // The next block starts `rows` hops later; keep whatever of it is already read.
        let next = start + (rows * self.hop) as u64;
        let keep = usize::try_from(next - start)
            .unwrap_or(usize::MAX)
            .min(records.len());
        self.tail.clear();
        self.tail.extend_from(&records, keep);
        self.tail_start = start + keep as u64;
        match Tensor::strided(records.wrap(), rows, vec![self.window], self.hop) {
            Ok(tensor) => Ok(tensor),
            // `rows` was computed from the records read, so they always cover the rows.
            Err(e) => unreachable!("framing arithmetic: {e}"),
        }
    }

    /// Positions the source so that the records from `start` on are in the tail or next read.
    fn move_to(&mut self, start: u64) -> Result<(), InputError> {
        if (self.tail_start..=self.position).contains(&start) {
            return Ok(());
        }
        self.tail.clear();
        if self.source.seek(start)? {
            self.position = start;
        } else if start > self.position {
            // A stream that cannot seek can still skip forward.
            let mut discard = B::default();
            discard.reserve(READ_CHUNK.min(1 << 12));
            while self.position < start {
                discard.clear();
                let want = usize::try_from(start - self.position).unwrap_or(usize::MAX);
                let n = self.source.read_into(&mut discard, want.min(READ_CHUNK))?;
                if n == 0 {
                    self.end = Some(self.position);
                    break;
                }
                self.position += n as u64;
                self.read += n as u64;
            }
        } else {
            return Err(InputError::NotSeekable {
                path: self.source.describe(),
                unit: self.unit,
                position: start,
            });
        }
        self.tail_start = self.position.min(start);
        Ok(())
    }

    fn recycle(&mut self, block: Tensor) {
        if self.spare.len() < self.spares
            && let Some(mut values) = B::unwrap(block.into_data())
        {
            values.clear();
            self.spare.push(values);
        }
    }
}

enum Input {
    Samples(Frames<Vec<f32>, Box<dyn SampleSource>>),
    Lines(Box<Frames<TextColumn, LineSource>>),
}

/// Frames windows out of a [`SampleSource`] or a [`LineSource`].
pub struct Framer {
    input: Input,
}

/// `$body` with `$f` bound to the framing, whatever its record type.
macro_rules! frames {
    ($self:expr, $f:ident => $body:expr) => {
        match $self {
            Input::Samples($f) => $body,
            Input::Lines($f) => $body,
        }
    };
}

impl std::fmt::Debug for Framer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (window, hop) = frames!(&self.input, x => (x.window, x.hop));
        f.debug_struct("Framer")
            .field("source", &self.describe())
            .field("window", &window)
            .field("hop", &hop)
            .finish()
    }
}

impl Framer {
    /// Frames `source` into windows of `window` samples, `hop` apart.
    pub fn new(source: Box<dyn SampleSource>, window: usize, hop: usize) -> Framer {
        Framer {
            input: Input::Samples(Frames::new(source, window, hop, "sample")),
        }
    }

    /// Frames the lines of `source` into windows of `window` lines, `hop` apart: rows of
    /// text.
    pub fn lines(source: LineSource, window: usize, hop: usize) -> Framer {
        Framer {
            input: Input::Lines(Box::new(Frames::new(source, window, hop, "line"))),
        }
    }

    /// The element type of the windows: f32 samples or text lines.
    pub fn dtype(&self) -> DType {
        match self.input {
            Input::Samples(_) => DType::F32,
            Input::Lines(_) => DType::Text,
        }
    }

    /// Takes back a block this framer made once nothing reads it, to reuse its buffer.
    pub fn recycle(&mut self, block: Tensor) {
        frames!(&mut self.input, f => f.recycle(block))
    }

    /// The source, for messages.
    pub fn describe(&self) -> String {
        frames!(&self.input, f => Records::describe(&f.source))
    }

    /// Samples per second the source records, if any.
    pub fn sample_rate(&self) -> Option<u32> {
        match &self.input {
            Input::Samples(f) => f.source.sample_rate(),
            Input::Lines(_) => None,
        }
    }

    /// Number of complete windows, when the length is known.
    pub fn total_windows(&self) -> Option<u64> {
        frames!(&self.input, f => f.end.map(|n| windows_in(n, f.window, f.hop)))
    }

    /// Records (samples or lines) in the whole input, when its length is known.
    pub fn total_samples(&self) -> Option<u64> {
        frames!(&self.input, f => f.end)
    }

    /// Records (samples or lines) read from the source so far (re-reads after a seek count
    /// again).
    pub fn samples_read(&self) -> u64 {
        frames!(&self.input, f => f.read)
    }

    /// What a line source has read: lines, bad UTF-8, cut lines, bytes.
    pub fn line_stats(&self) -> Option<LineStats> {
        match &self.input {
            Input::Samples(_) => None,
            Input::Lines(f) => Some(f.source.stats()),
        }
    }

    /// A framer of the same records with a position of its own, for a worker that frames its
    /// own windows; `None` when the source cannot have a second reader (see
    /// [`SampleSource::try_clone`]).
    pub(crate) fn try_clone(&self) -> Option<Framer> {
        let Input::Samples(f) = &self.input else {
            return None;
        };
        Some(Framer::new(f.source.try_clone()?, f.window, f.hop))
    }

    /// Keeps at most `blocks` buffers handed back for reuse (the rest are freed): one of
    /// several framers needs only its share of a batch.
    pub(crate) fn keep_spares(&mut self, blocks: usize) {
        frames!(&mut self.input, f => {
            f.spares = blocks;
            f.spare.truncate(blocks);
        })
    }

    /// Counts records that other framers of its source read for it (see
    /// [`Framer::try_clone`]) in [`Framer::samples_read`].
    pub(crate) fn count_read(&mut self, records: u64) {
        frames!(&mut self.input, f => f.read += records)
    }

    /// Windows `t0 ..` up to `max_rows` of them: fewer at the end of the input, none past it.
    pub fn frame(&mut self, t0: u64, max_rows: usize) -> Result<Tensor, InputError> {
        frames!(&mut self.input, f => f.frame(t0, max_rows))
    }
}

/// Number of complete windows of `window` samples, `hop` apart, in `samples` samples. (A hop
/// of 0, which the planner refuses, counts as 1 here, so that asking before planning is safe.)
pub fn windows_in(samples: u64, window: usize, hop: usize) -> u64 {
    if samples < window as u64 {
        0
    } else {
        (samples - window as u64) / hop.max(1) as u64 + 1
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
