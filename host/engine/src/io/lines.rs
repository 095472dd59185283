//! Text records, one per line, from a file or a stream of any size in bounded memory: the
//! source that log pipelines frame into windows of records. A line's bytes that are not
//! UTF-8 are replaced (U+FFFD) and the line counted, never fatal; a line longer than the cap
//! keeps its first `max_line` bytes (less a character the cut goes through) and is counted;
//! `\n` and `\r\n` both end a line, and a last line without one still counts.
//!
//! A file can be read again from any line: the byte offset of every
//! [`INDEX_EVERY`]th line is kept (8 bytes per 4096 lines), so going back costs a seek and
//! at most that many lines skipped.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::InputError;
use crate::tensor::TextColumn;

/// Longest line kept whole by default: longer ones are cut to this many bytes.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// Lines between the offsets a file's [`LineSource`] keeps to go back.
pub const INDEX_EVERY: u64 = 4096;

/// What a [`LineSource`] has read so far (each line once, however often it is read again).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineStats {
    /// Lines returned.
    pub lines: u64,
    /// Lines that held bytes that are not UTF-8 (returned with U+FFFD in their place).
    pub invalid_utf8: u64,
    /// Lines longer than the cap (returned cut to it).
    pub truncated: u64,
    /// Bytes read, line ends included.
    pub bytes: u64,
}

enum Reader {
    /// A file: it can seek.
    File(BufReader<File>),
    /// A stream: forward only.
    Stream(Box<dyn BufRead + Send>),
}

impl Reader {
    fn get(&mut self) -> &mut dyn BufRead {
        match self {
            Reader::File(file) => file,
            Reader::Stream(stream) => stream,
        }
    }
}

/// Lines of text read from a file or a stream.
pub struct LineSource {
    name: String,
    reader: Reader,
    max_line: usize,
    line: Vec<u8>,
    /// Where the lines in the read buffer end, found together.
    newlines: Vec<usize>,
    at: Position,
}

/// Where a [`LineSource`] is, and what it has counted: kept apart from the reader, so that
/// lines can be counted while they are read out of its buffer.
#[derive(Default)]
struct Position {
    stats: LineStats,
    /// The line the next read returns, and its byte offset.
    line_no: u64,
    offset: u64,
    /// Byte offset of line `i * INDEX_EVERY` at `index[i]`; kept for files only.
    index: Vec<u64>,
    file: bool,
}

impl Position {
    /// Keeps the offset of every [`INDEX_EVERY`]th line of a file, as it is first reached.
    fn begin_line(&mut self) {
        if self.file
            && self.line_no.is_multiple_of(INDEX_EVERY)
            && self.index.len() as u64 == self.line_no / INDEX_EVERY
        {
            self.index.push(self.offset);
        }
    }

    /// Counts the line just read (`offset` is past its end); whether it is read for the
    /// first time.
    fn end_line(&mut self, cut: bool) -> bool {
        // A line read again after a seek is not counted again.
        let new = self.line_no == self.stats.lines;
        self.line_no += 1;
        if new {
            self.stats.lines += 1;
            self.stats.truncated += u64::from(cut);
            self.stats.bytes = self.offset;
        }
        new
    }
}

impl std::fmt::Debug for LineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineSource")
            .field("name", &self.name)
            .field("stats", &self.at.stats)
            .finish()
    }
}

impl LineSource {
    /// Lines of the file at `path`.
    pub fn open(path: &Path) -> Result<LineSource, InputError> {
        let file = File::open(path).map_err(|source| InputError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let mut source = LineSource::from_reader(&path.display().to_string(), std::io::empty());
        source.reader = Reader::File(BufReader::with_capacity(1 << 16, file));
        source.at.file = true;
        Ok(source)
    }

    /// Lines of `reader` (stdin, a socket), called `name` in messages.
    pub fn from_reader(name: &str, reader: impl BufRead + Send + 'static) -> LineSource {
        LineSource {
            name: name.to_string(),
            reader: Reader::Stream(Box::new(reader)),
            max_line: DEFAULT_MAX_LINE,
            line: Vec::new(),
            newlines: Vec::new(),
            at: Position::default(),
        }
    }

    /// Lines of a reader without a buffer of its own.
    pub fn from_unbuffered(name: &str, reader: impl Read + Send + 'static) -> LineSource {
        LineSource::from_reader(name, BufReader::with_capacity(1 << 16, reader))
    }

    /// Cuts lines longer than `bytes` (at least 1) to their first `bytes` bytes.
    pub fn with_max_line(mut self, bytes: usize) -> LineSource {
        self.max_line = bytes.max(1);
        self
    }

    /// Whether it can go back to an earlier line (a file can; a stream cannot).
    pub fn seekable(&self) -> bool {
        matches!(self.reader, Reader::File(_))
    }

    /// The file or stream, for messages.
    pub fn describe(&self) -> &str {
        &self.name
    }

    /// What was read so far.
    pub fn stats(&self) -> LineStats {
        self.at.stats
    }

    /// Appends up to `max` lines to `out`, without their line ends; returns how many, 0 only
    /// at the end.
    pub fn read_lines(&mut self, out: &mut TextColumn, max: usize) -> Result<usize, InputError> {
        let mut n = 0;
        while n < max {
            n += self.lines_in_buffer(out, max - n)?;
            // The next line is not whole in the buffer, too long or not UTF-8 (or `max` met).
            if n == max || !self.next_line(Some(out))? {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Moves so that the next line read is line `position` (from 0); `Ok(false)` for a
    /// stream, which cannot go back (a file can: it keeps an index of line offsets).
    pub fn seek_line(&mut self, position: u64) -> Result<bool, InputError> {
        if position == self.at.line_no {
            return Ok(true);
        }
        let Reader::File(file) = &mut self.reader else {
            return Ok(false);
        };
        let k = usize::try_from(position / INDEX_EVERY)
            .unwrap_or(usize::MAX)
            .min(self.at.index.len().saturating_sub(1));
        let from = k as u64 * INDEX_EVERY;
        // Going back, or further forward than the next kept offset: seek there first.
        if (position < self.at.line_no || from > self.at.line_no)
            && let Some(&offset) = self.at.index.get(k)
        {
            file.seek(SeekFrom::Start(offset))
                .map_err(|source| InputError::Read {
                    path: self.name.clone(),
                    source,
                })?;
            self.at.line_no = from;
            self.at.offset = offset;
        }
        while self.at.line_no < position && self.next_line(None)? {}
        Ok(true)
    }

    /// The usual lines: whole in the read buffer, no longer than the cap, UTF-8. They are
    /// checked together and copied once, from the read buffer into `out`; the first line
    /// that is not like that is left for [`next_line`](Self::next_line).
    fn lines_in_buffer(&mut self, out: &mut TextColumn, max: usize) -> Result<usize, InputError> {
        let buf = match &mut self.reader {
            Reader::File(file) => file.fill_buf(),
            Reader::Stream(stream) => stream.fill_buf(),
        }
        .map_err(|source| InputError::Read {
            path: self.name.clone(),
            source,
        })?;
        // Where each whole line ends (its `\n`), up to the first one longer than the cap.
        self.newlines.clear();
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', buf) {
            if self.newlines.len() == max || newline - start > self.max_line {
                break;
            }
            self.newlines.push(newline);
            start = newline + 1;
        }
        // SIMD validation of all of them at once: std's check, line by line, was 7–18% of the
        // framing thread's time (perf).
        let span = self.newlines.last().map_or(0, |&n| n + 1);
        let text = match simdutf8::compat::from_utf8(&buf[..span]) {
            Ok(text) => text,
            Err(e) => {
                // The lines before the first bad byte are good.
                let good = e.valid_up_to();
                self.newlines.retain(|&n| n < good);
                let span = self.newlines.last().map_or(0, |&n| n + 1);
                // A prefix of valid UTF-8 that ends before an ASCII byte: it does not fail.
                match std::str::from_utf8(&buf[..span]) {
                    Ok(text) => text,
                    Err(_) => {
                        self.newlines.clear();
                        ""
                    }
                }
            }
        };
        let mut start = 0;
        for &newline in &self.newlines {
            self.at.begin_line();
            let line = &text[start..newline];
            out.push(line.strip_suffix('\r').unwrap_or(line));
            self.at.offset += (newline + 1 - start) as u64;
            self.at.end_line(false);
            start = newline + 1;
        }
        let n = self.newlines.len();
        match &mut self.reader {
            Reader::File(file) => file.consume(start),
            Reader::Stream(stream) => stream.consume(start),
        }
        Ok(n)
    }

    /// Reads one line into `out` (or past it, for `None`), whatever it is like; whether there
    /// was one.
    fn next_line(&mut self, out: Option<&mut TextColumn>) -> Result<bool, InputError> {
        self.line.clear();
        self.at.begin_line();
        let (mut seen, mut ended, mut cut) = (false, false, false);
        while !ended {
            let buf = self
                .reader
                .get()
                .fill_buf()
                .map_err(|source| InputError::Read {
                    path: self.name.clone(),
                    source,
                })?;
            if buf.is_empty() {
                break;
            }
            seen = true;
            let (take, used) = match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    ended = true;
                    (i, i + 1)
                }
                None => (buf.len(), buf.len()),
            };
            let room = self.max_line - self.line.len();
            if take > room {
                cut = true;
            }
            self.line.extend_from_slice(&buf[..take.min(room)]);
            self.reader.get().consume(used);
            self.at.offset += used as u64;
        }
        if !seen {
            return Ok(false);
        }
        // A `\r` before the `\n` is part of the line end, unless the cut already dropped it.
        if ended && !cut && self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        let new = self.at.end_line(cut);
        if cut {
            // Do not count a character the cut went through as bad bytes: drop its start.
            if let Err(e) = std::str::from_utf8(&self.line)
                && e.error_len().is_none()
            {
                self.line.truncate(e.valid_up_to());
            }
        }
        let text = String::from_utf8_lossy(&self.line);
        if matches!(text, std::borrow::Cow::Owned(_)) {
            self.at.stats.invalid_utf8 += u64::from(new);
        }
        if let Some(out) = out {
            out.push(&text);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The lines of `data` the slow, obvious way.
    fn oracle(data: &[u8], max_line: usize) -> (Vec<String>, LineStats) {
        let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        if data.is_empty() || data.ends_with(b"\n") {
            pieces.pop();
        }
        let mut stats = LineStats {
            bytes: data.len() as u64,
            ..LineStats::default()
        };
        let lines = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let ended = i + 1 < pieces.len() || data.ends_with(b"\n");
                let mut line = piece.to_vec();
                let cut = line.len() > max_line;
                line.truncate(max_line);
                // A multi-byte character cut in two loses its first bytes too.
                while cut && std::str::from_utf8(&line).is_err_and(|e| e.error_len().is_none()) {
                    line.pop();
                }
                if ended && !cut && line.ends_with(b"\r") {
                    line.pop();
                }
                stats.lines += 1;
                stats.truncated += u64::from(cut);
                stats.invalid_utf8 += u64::from(std::str::from_utf8(&line).is_err());
                String::from_utf8_lossy(&line).into_owned()
            })
            .collect();
        (lines, stats)
    }

    fn read_all(
        data: &[u8],
        max_line: usize,
        buffer: usize,
        per_call: usize,
    ) -> (Vec<String>, LineStats) {
        let reader = BufReader::with_capacity(buffer, std::io::Cursor::new(data.to_vec()));
        let mut source = LineSource::from_reader("test", reader).with_max_line(max_line);
        let mut out = TextColumn::new();
        while source.read_lines(&mut out, per_call).expect("reads") > 0 {}
        (out.iter().map(str::to_string).collect(), source.stats())
    }

    #[test]
    fn a_cut_through_a_character_is_not_a_bad_byte() {
        let (lines, stats) = read_all("añb\n".as_bytes(), 2, 8, 1);
        assert_eq!(lines, ["a"]);
        assert_eq!((stats.truncated, stats.invalid_utf8), (1, 0));
    }

    #[test]
    fn line_ends_invalid_bytes_and_long_lines() {
        let data = b"GET / 200\r\nbad \xff\xfe byte\n\nlong line here\nlast";
        let (lines, stats) = read_all(data, 8, 3, 2);
        assert_eq!(
            lines,
            ["GET / 20", "bad \u{fffd}\u{fffd} b", "", "long lin", "last"]
        );
        assert_eq!(
            stats,
            LineStats {
                lines: 5,
                invalid_utf8: 1,
                truncated: 3,
                bytes: data.len() as u64
            }
        );
    }

    #[test]
    fn a_file_goes_back_to_any_line_and_counts_each_line_once() {
        let mut data = Vec::new();
        for i in 0..3 * INDEX_EVERY + 100 {
            data.extend_from_slice(format!("line {i}").as_bytes());
            if i % 1000 == 7 {
                data.push(0xff);
            }
            data.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        }
        let (expected, stats) = oracle(&data, DEFAULT_MAX_LINE);
        let file = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(file.path(), &data).expect("write");
        let mut source = LineSource::open(file.path()).expect("open");
        let mut out = TextColumn::new();
        for (at, n) in [
            (0u64, 10usize),
            (5000, 20),
            (12, 3),
            (4096, 1),
            (4095, 2),
            (12_000, 500),
            (8191, 3),
            (0, 1),
            (12_280, 200),
        ] {
            assert!(source.seek_line(at).expect("seeks"), "a file can seek");
            out.clear();
            assert_eq!(
                source.read_lines(&mut out, n).expect("reads"),
                n.min(12_388 - at as usize)
            );
            assert_eq!(
                out.iter().collect::<Vec<_>>(),
                expected[at as usize..at as usize + out.len()],
                "from line {at}"
            );
        }
        assert_eq!(
            source.stats(),
            stats,
            "every line counted once, however often read"
        );
        let mut stream = LineSource::from_reader("stdin", std::io::Cursor::new(data));
        assert!(!stream.seek_line(5).expect("answers"), "a stream cannot");
        assert!(stream.seek_line(0).expect("answers"), "where it already is");
    }

    proptest! {
        #[test]
        fn any_bytes_any_buffer_match_the_oracle(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0xff), Just(b'a'), any::<u8>()],
                0..300,
            ),
            max_line in 1usize..40,
            buffer in 1usize..64,
            per_call in 1usize..5,
        ) {
            prop_assert_eq!(read_all(&data, max_line, buffer, per_call), oracle(&data, max_line));
        }
    }
}
