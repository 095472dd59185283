//! Text elements held together: [`TextColumn`] keeps a block's strings back to back in one
//! UTF-8 buffer with the offset where each ends, so a block of thousands of log lines is two
//! allocations, not one per line, and crosses into a plugin (whose contract has text the same
//! way) as one copy. [`TextSlice`] borrows a run of its elements, [`TextRows`] a view's rows.

use std::fmt;
use std::ops::Range;

/// Text elements: their UTF-8 bytes back to back in one string, and where each ends.
///
/// Element `i` is `text[ends[i - 1]..ends[i]]` (from 0 for the first).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TextColumn {
    text: String,
    ends: Vec<usize>,
}

/// A [`TextColumn`] could not be made from the parts given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("text element {index} at bytes {start}..{end} of {len}: {why}")]
pub struct TextError {
    /// The element.
    pub index: usize,
    /// Where it starts.
    pub start: usize,
    /// Where it ends.
    pub end: usize,
    /// Bytes of text there are.
    pub len: usize,
    /// What is wrong with it.
    pub why: &'static str,
}

impl TextColumn {
    /// No elements.
    pub fn new() -> TextColumn {
        TextColumn::default()
    }

    /// No elements, with room for `elements` of `bytes` in all.
    pub fn with_capacity(elements: usize, bytes: usize) -> TextColumn {
        TextColumn {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(elements),
        }
    }

    /// The elements of `text` that end at `ends`: each end no earlier than the one before,
    /// within the text and between two characters, the last at its end.
    pub fn from_parts(text: String, ends: Vec<usize>) -> Result<TextColumn, TextError> {
        let mut start = 0;
        for (index, &end) in ends.iter().enumerate() {
            let why = if end < start {
                Some("it ends before it starts")
            } else if end > text.len() {
                Some("it ends past the text")
            } else if !text.is_char_boundary(end) {
                Some("it ends inside a character")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(TextError {
                    index,
                    start,
                    end,
                    len: text.len(),
                    why,
                });
            }
            start = end;
        }
        if start != text.len() {
            return Err(TextError {
                index: ends.len(),
                start,
                end: text.len(),
                len: text.len(),
                why: "the text goes on past the last element",
            });
        }
        Ok(TextColumn { text, ends })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends an element.
    pub fn push(&mut self, element: &str) {
        self.text.push_str(element);
        self.ends.push(self.text.len());
    }

    /// Removes every element, keeping the allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Keeps the first `len` elements (all of them, when there are fewer).
    pub fn truncate(&mut self, len: usize) {
        if len < self.ends.len() {
            self.ends.truncate(len);
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// Room for `elements` more elements of `bytes` more bytes.
    pub fn reserve(&mut self, elements: usize, bytes: usize) {
        self.ends.reserve(elements);
        self.text.reserve(bytes);
    }

    /// Appends the elements of `slice`: one copy of their bytes.
    pub fn extend_from(&mut self, slice: TextSlice<'_>) {
        let base = self.text.len();
        self.text.push_str(slice.as_str());
        self.ends.extend(slice.ends().map(|e| base + e));
    }

    /// All the elements.
    pub fn as_slice(&self) -> TextSlice<'_> {
        TextSlice {
            text: &self.text,
            start: 0,
            ends: &self.ends,
        }
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.as_slice().get(i)
    }

    /// The elements in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.as_slice().iter()
    }

    /// Bytes allocated.
    pub fn nbytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

impl fmt::Debug for TextColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl<S: AsRef<str>> FromIterator<S> for TextColumn {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> TextColumn {
        let mut out = TextColumn::new();
        out.extend(iter);
        out
    }
}

impl<S: AsRef<str>> Extend<S> for TextColumn {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for element in iter {
            self.push(element.as_ref());
        }
    }
}

/// A run of a [`TextColumn`]'s elements, borrowed.
#[derive(Clone, Copy)]
pub struct TextSlice<'a> {
    /// The whole column's text (elements outside the run included).
    text: &'a str,
    /// Where the run's first element starts.
    start: usize,
    /// Where each of the run's elements ends, in `text`.
    ends: &'a [usize],
}

impl<'a> TextSlice<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Element `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let end = *self.ends.get(i)?;
        let start = match i {
            0 => self.start,
            _ => self.ends[i - 1],
        };
        self.text.get(start..end)
    }

    /// Element `i`.
    ///
    /// # Panics
    /// When there is no element `i`.
    pub fn at(&self, i: usize) -> &'a str {
        match self.get(i) {
            Some(element) => element,
            None => panic!("text element {i} of {}", self.len()),
        }
    }

    /// The elements in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a str> + use<'a> {
        let TextSlice { text, start, ends } = *self;
        (0..ends.len()).map(move |i| {
            let from = if i == 0 { start } else { ends[i - 1] };
            &text[from..ends[i]]
        })
    }

    /// Elements `range` of this run.
    ///
    /// # Panics
    /// When the range reaches outside it.
    pub fn sub(&self, range: Range<usize>) -> TextSlice<'a> {
        let start = match range.start {
            0 => self.start,
            i => self.ends[i - 1],
        };
        TextSlice {
            text: self.text,
            start,
            ends: &self.ends[range],
        }
    }

    /// The elements' bytes back to back, as one string.
    pub fn as_str(&self) -> &'a str {
        let end = self.ends.last().copied().unwrap_or(self.start);
        &self.text[self.start..end]
    }

    /// Where each element ends in [`as_str`](Self::as_str).
    pub fn ends(&self) -> impl ExactSizeIterator<Item = usize> + use<'a> {
        let start = self.start;
        self.ends.iter().map(move |&e| e - start)
    }

    /// An owned copy.
    pub fn to_column(&self) -> TextColumn {
        let mut out = TextColumn::with_capacity(self.len(), self.as_str().len());
        out.extend_from(*self);
        out
    }
}

impl fmt::Debug for TextSlice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for TextSlice<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for TextSlice<'_> {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for TextSlice<'_> {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

/// Rows of text elements: [`Rows`](super::Rows) for a text view.
#[derive(Clone, Copy, Debug)]
pub struct TextRows<'a> {
    pub(super) values: TextSlice<'a>,
    pub(super) rows: usize,
    pub(super) row_len: usize,
    pub(super) row_stride: usize,
}

impl<'a> TextRows<'a> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> TextSlice<'a> {
        let start = i * self.row_stride;
        self.values.sub(start..start + self.row_len)
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = TextSlice<'a>> + use<'a> {
        let rows = *self;
        (0..rows.rows).map(move |i| rows.row(i))
    }

    /// Whether the rows lie back to back (no overlap, no gaps), so that
    /// [`elements`](Self::elements) holds each element once.
    pub fn contiguous(&self) -> bool {
        self.rows <= 1 || self.row_stride == self.row_len
    }

    /// Every element the rows span, in order (overlapping rows share theirs).
    pub fn elements(&self) -> TextSlice<'a> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parts_are_checked() {
        let ok = TextColumn::from_parts("abcé".into(), vec![1, 1, 5]).expect("valid");
        assert_eq!(ok.iter().collect::<Vec<_>>(), ["a", "", "bcé"]);
        let err = |text: &str, ends: Vec<usize>| {
            TextColumn::from_parts(text.into(), ends)
                .expect_err("invalid")
                .why
        };
        assert_eq!(err("abc", vec![2, 1, 3]), "it ends before it starts");
        assert_eq!(err("abc", vec![4]), "it ends past the text");
        assert_eq!(err("é", vec![1, 2]), "it ends inside a character");
        assert_eq!(
            err("abc", vec![2]),
            "the text goes on past the last element"
        );
        assert_eq!(
            TextColumn::from_parts(String::new(), vec![]),
            Ok(TextColumn::new())
        );
    }

    proptest! {
        /// Runs of a column, and copies of them, hold the strings they were made from.
        #[test]
        fn slices_hold_their_strings(
            strings in prop::collection::vec(".{0,12}", 0..40),
            a in 0usize..41,
            b in 0usize..41,
        ) {
            let column: TextColumn = strings.iter().collect();
            prop_assert_eq!(column.len(), strings.len());
            prop_assert_eq!(column.iter().collect::<Vec<_>>(), strings.clone());
            let (a, b) = (a.min(b).min(strings.len()), b.max(a).min(strings.len()));
            let run = column.as_slice().sub(a..b);
            prop_assert!(run == strings[a..b]);
            prop_assert_eq!(run.as_str(), strings[a..b].concat());
            let mut copy = TextColumn::new();
            copy.push("before");
            copy.extend_from(run);
            prop_assert!(copy.as_slice().sub(1..copy.len()) == strings[a..b]);
            let owned = run.to_column();
            prop_assert_eq!(owned.as_slice(), run);
            let ends: Vec<usize> = run.ends().collect();
            let rebuilt = TextColumn::from_parts(run.as_str().to_string(), ends);
            prop_assert_eq!(rebuilt.as_ref().map(|c| c.as_slice()), Ok(run));
        }
    }
}
