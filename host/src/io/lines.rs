//! Text records, one per line, from a file or a stream of any size in bounded memory: the
//! source that log pipelines frame into windows of records. A line's bytes that are not
//! UTF-8 are replaced (U+FFFD) and the line counted, never fatal; a line longer than the cap
//! keeps its first `max_line` bytes (less a character the cut goes through) and is counted; `\n` and `\r\n` both end a line, and a
//! last line without one still counts.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::InputError;

/// Longest line kept whole by default: longer ones are cut to this many bytes.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// What a [`LineSource`] has read so far.
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

/// Lines of text read forward from a file or a stream.
pub struct LineSource {
    name: String,
    reader: Box<dyn BufRead + Send>,
    max_line: usize,
    line: Vec<u8>,
    stats: LineStats,
}

impl std::fmt::Debug for LineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineSource")
            .field("name", &self.name)
            .field("stats", &self.stats)
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
        Ok(LineSource::from_reader(
            &path.display().to_string(),
            BufReader::with_capacity(1 << 16, file),
        ))
    }

    /// Lines of `reader` (stdin, a socket), called `name` in messages.
    pub fn from_reader(name: &str, reader: impl BufRead + Send + 'static) -> LineSource {
        LineSource {
            name: name.to_string(),
            reader: Box::new(reader),
            max_line: DEFAULT_MAX_LINE,
            line: Vec::new(),
            stats: LineStats::default(),
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

    /// The file or stream, for messages.
    pub fn describe(&self) -> &str {
        &self.name
    }

    /// What was read so far.
    pub fn stats(&self) -> LineStats {
        self.stats
    }

    /// Appends up to `max` lines to `out`, without their line ends; returns how many, 0 only
    /// at the end.
    pub fn read_lines(&mut self, out: &mut Vec<String>, max: usize) -> Result<usize, InputError> {
        let mut n = 0;
        while n < max {
            match self.next_line()? {
                Some(line) => {
                    out.push(line);
                    n += 1;
                }
                None => break,
            }
        }
        Ok(n)
    }

    fn next_line(&mut self) -> Result<Option<String>, InputError> {
        self.line.clear();
        let (mut seen, mut ended, mut cut) = (false, false, false);
        while !ended {
            let buf = self.reader.fill_buf().map_err(|source| InputError::Read {
                path: self.name.clone(),
                source,
            })?;
            if buf.is_empty() {
                break;
            }
            seen = true;
            let (take, used) = match buf.iter().position(|&b| b == b'\n') {
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
            self.reader.consume(used);
            self.stats.bytes += used as u64;
        }
        if !seen {
            return Ok(None);
        }
        // A `\r` before the `\n` is part of the line end, unless the cut already dropped it.
        if ended && !cut && self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        self.stats.lines += 1;
        self.stats.truncated += u64::from(cut);
        if cut {
            // Do not count a character the cut went through as bad bytes: drop its start.
            if let Err(e) = std::str::from_utf8(&self.line)
                && e.error_len().is_none()
            {
                self.line.truncate(e.valid_up_to());
            }
        }
        let text = match std::str::from_utf8(&self.line) {
            Ok(text) => text.to_string(),
            Err(_) => {
                self.stats.invalid_utf8 += 1;
                String::from_utf8_lossy(&self.line).into_owned()
            }
        };
        Ok(Some(text))
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
        let mut out = Vec::new();
        while source.read_lines(&mut out, per_call).expect("reads") > 0 {}
        (out, source.stats())
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
