//! The default log format read by hand: one pass over a line's bytes, each byte looked at
//! once, no allocation, finding exactly the groups [`COMBINED_WITH_TIME`]'s regex finds (a
//! property test holds the two to the same spans over random and mangled lines). The regex
//! stays the definition and serves every other pattern; this is the same match, about four
//! times faster in Wasm, where the parse stage spends nearly all of the pipeline's time.
//!
//! The numbers of a line come out through [`decimal`] and [`common_log_time`], fast paths
//! that give the same bits as `str::parse::<f64>` and [`super::parse_time`] and hand anything
//! unusual to them.
//!
//! [`COMBINED_WITH_TIME`]: super::COMBINED_WITH_TIME

use std::ops::Range;

/// Where the groups of a matching line are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Groups {
    pub time: Range<usize>,
    pub path: Range<usize>,
    pub status: Range<usize>,
    pub latency: Range<usize>,
}

/// A position in a line, moving forward only.
struct Cursor<'a> {
    line: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Takes the bytes up to the first one `stop` accepts (or the end): `[^...]*`.
    fn until(&mut self, stop: impl Fn(u8) -> bool) -> Range<usize> {
        let start = self.at;
        while self.at < self.line.len() && !stop(self.line[self.at]) {
            self.at += 1;
        }
        start..self.at
    }

    /// [`Cursor::until`], at least one byte: `[^...]+`.
    fn until_some(&mut self, stop: impl Fn(u8) -> bool) -> Option<Range<usize>> {
        let taken = self.until(stop);
        (!taken.is_empty()).then_some(taken)
    }

    /// Takes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.line.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    fn peek(&self) -> Option<u8> {
        self.line.get(self.at).copied()
    }

    /// `[0-9]+`.
    fn digits(&mut self) -> Option<Range<usize>> {
        self.until_some(|b| !b.is_ascii_digit())
    }
}

/// The groups of `line` if it matches [`super::COMBINED_WITH_TIME`]:
/// `^[^ ]+ [^ ]+ [^ ]+ \[(?P<time>[^\]]+)\] "[^ "]+ (?P<path>[^ "]+)(?: [^"]*)?"
/// (?P<status>[0-9]{3}) [^ ]+ "[^"]*" "[^"]*" (?P<latency>[0-9]+(?:\.[0-9]+)?)$`.
///
/// Every part of the pattern ends where a byte it cannot take comes, and the next part starts
/// with that byte, so reading left to right with no second try finds the regex's only match.
/// Bytes are enough: the pattern's classes exclude only ASCII, and no byte of a multi-byte
/// UTF-8 character is ASCII.
pub(super) fn scan(line: &str) -> Option<Groups> {
    let mut c = Cursor {
        line: line.as_bytes(),
        at: 0,
    };
    let space = |b| b == b' ';
    let space_or_quote = |b| b == b' ' || b == b'"';
    let quote = |b| b == b'"';
    for _ in 0..3 {
        c.until_some(space)?; // address, identity, user
        c.eat(b' ')?;
    }
    c.eat(b'[')?;
    let time = c.until_some(|b| b == b']')?;
    c.eat(b']')?;
    c.eat(b' ')?;
    c.eat(b'"')?;
    c.until_some(space_or_quote)?; // method
    c.eat(b' ')?;
    let path = c.until_some(space_or_quote)?;
    if c.peek() == Some(b' ') {
        c.eat(b' ')?;
        c.until(quote); // protocol
    }
    c.eat(b'"')?;
    c.eat(b' ')?;
    let status = c.at..c.at + 3;
    if !c.line.get(status.clone())?.iter().all(u8::is_ascii_digit) {
        return None;
    }
    c.at = status.end;
    c.eat(b' ')?;
    c.until_some(space)?; // bytes sent
    c.eat(b' ')?;
    for _ in 0..2 {
        c.eat(b'"')?; // referer, user agent
        c.until(quote);
        c.eat(b'"')?;
        c.eat(b' ')?;
    }
    let whole = c.digits()?;
    let latency = if c.peek() == Some(b'.') {
        c.eat(b'.')?;
        whole.start..c.digits()?.end
    } else {
        whole
    };
    (c.at == c.line.len()).then_some(Groups {
        time,
        path,
        status,
        latency,
    })
}

/// `text.parse::<f64>()`, quickly for plain decimals (`123`, `0.042`): digits, at most one
/// point, 15 significant digits or fewer. Such a number is an integer below 2^53 divided by a
/// power of ten below 10^16, both exact in f64, and IEEE division rounds the quotient
/// correctly, which is what `parse` does (Clinger's fast path). Anything else goes to `parse`.
pub(super) fn decimal(text: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return text.parse().ok(), // `1.`
        None => (text, ""),
    };
    let plain = !whole.is_empty()
        && whole.len() + fraction.len() <= 15
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit());
    if !plain {
        return text.parse().ok();
    }
    let mantissa = whole
        .bytes()
        .chain(fraction.bytes())
        .fold(0u64, |m, d| m * 10 + u64::from(d - b'0'));
    Some(mantissa as f64 / POW10[fraction.len()])
}

/// [`super::parse_time`] of a time written exactly `dd/Mon/yyyy:hh:mm:ss +hhmm`, read at fixed
/// positions; any other shape goes to `parse_time` itself, which is more lenient.
pub(super) fn common_log_time(text: &str) -> Option<f64> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = text.as_bytes();
    let shape = b"00/Mon/0000:00:00:00 +0000";
    let fits = b.len() == shape.len()
        && b.iter().zip(shape).all(|(&x, &s)| match s {
            b'0' => x.is_ascii_digit(),
            b'M' | b'o' | b'n' => true,
            b'+' => x == b'+' || x == b'-',
            _ => x == s,
        });
    if !fits {
        return super::parse_time(text);
    }
    let num = |r: Range<usize>| b[r].iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    let (day, year) = (num(0..2), num(7..11));
    let (hour, minute, second) = (num(12..14), num(15..17), num(18..20));
    let month = MONTHS.iter().position(|m| m[..] == b[3..6])? as i64 + 1;
    if day > 31 || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset = num(22..24) * 3600 + num(24..26) * 60;
    let offset = if b[21] == b'-' { -offset } else { offset };
    let days = super::days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset) as f64)
}

#[cfg(test)]
mod tests {
    use super::{Groups, common_log_time, decimal, scan};
    use crate::logs::{COMBINED_WITH_TIME, parse_time};
    use proptest::prelude::*;
    use regex::Regex;

    /// The spans the regex finds.
    fn by_regex(pattern: &Regex, line: &str) -> Option<Groups> {
        let caps = pattern.captures(line)?;
        let span = |name: &str| caps.name(name).map(|m| m.range());
        Some(Groups {
            time: span("time")?,
            path: span("path")?,
            status: span("status")?,
            latency: span("latency")?,
        })
    }

    const GOOD: &str = r#"203.0.113.9 - alice [01/Jan/2026:00:00:07 +0000] "GET /api/items?id=7 HTTP/1.1" 503 1234 "https://ref.example/" "curl/8.5 (x86_64)" 0.042"#;

    /// Lines near the format: a good line with bytes replaced, inserted and deleted, drawn
    /// from the bytes the pattern cares about and some it does not.
    fn near_lines() -> impl Strategy<Value = String> {
        let alphabet = prop::sample::select(vec![
            " ", "\"", "[", "]", ".", "0", "5", "9", "a", "-", "/", ":", "+", "\n", "\r", "é", "✓",
        ]);
        let edit = (0usize..200, 0u8..3, alphabet);
        prop::collection::vec(edit, 0..6).prop_map(|edits| {
            let mut chars: Vec<String> = GOOD.chars().map(String::from).collect();
            for (at, kind, s) in edits {
                let at = at % (chars.len() + 1);
                match kind {
                    0 if at < chars.len() => chars[at] = s.to_string(),
                    1 => chars.insert(at, s.to_string()),
                    _ if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => {}
                }
            }
            chars.concat()
        })
    }

    #[test]
    fn the_scanner_reads_the_good_line_and_refuses_the_obvious() {
        let g = scan(GOOD).expect("the good line");
        assert_eq!(&GOOD[g.time], "01/Jan/2026:00:00:07 +0000");
        assert_eq!(&GOOD[g.path], "/api/items?id=7");
        assert_eq!(&GOOD[g.status], "503");
        assert_eq!(&GOOD[g.latency], "0.042");
        for bad in [
            "",
            " ",
            "GET / 200",
            &GOOD[..GOOD.len() - 1],
            &format!("{GOOD}\n"),
        ] {
            let expect_none = bad != &GOOD[..GOOD.len() - 1];
            assert_eq!(scan(bad).is_none(), expect_none, "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn the_scanner_finds_what_the_regex_finds(line in near_lines()) {
            let pattern = Regex::new(COMBINED_WITH_TIME).expect("the default pattern");
            prop_assert_eq!(scan(&line), by_regex(&pattern, &line), "{:?}", line);
        }

        #[test]
        fn the_scanner_agrees_on_any_text(line in "[ -~é\"\\[\\]]{0,80}") {
            let pattern = Regex::new(COMBINED_WITH_TIME).expect("the default pattern");
            prop_assert_eq!(scan(&line), by_regex(&pattern, &line));
        }

        #[test]
        fn decimals_have_the_bits_parse_gives(
            whole in "[0-9]{0,18}", point in any::<bool>(), fraction in "[0-9]{0,18}",
            junk in prop::option::of("[-+eE. x]"),
        ) {
            let mut text = whole.clone();
            if point { text.push('.'); text.push_str(&fraction); }
            if let Some(j) = junk { text.push_str(&j); }
            let expected = text.parse::<f64>().ok();
            prop_assert_eq!(decimal(&text).map(f64::to_bits), expected.map(f64::to_bits), "{}", text);
        }

        #[test]
        fn times_have_the_seconds_parse_time_gives(
            day in 0u32..40, month in 0usize..13, year in 0u32..10000, hour in 0u32..26,
            minute in 0u32..62, second in 0u32..62, sign in "[-+ ]", zone in 0u32..10000,
            mangle in prop::option::of((0usize..26, "[0-9/: +a-z]")),
        ) {
            const NAMES: [&str; 13] =
                ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Foo"];
            let mut text = format!(
                "{day:02}/{}/{year:04}:{hour:02}:{minute:02}:{second:02} {sign}{zone:04}",
                NAMES[month]
            );
            if let Some((at, with)) = mangle
                && text.is_char_boundary(at)
            {
                text.insert_str(at, &with);
            }
            prop_assert_eq!(
                common_log_time(&text).map(f64::to_bits),
                parse_time(&text).map(f64::to_bits),
                "{}", text
            );
        }
    }

    #[test]
    fn decimals_at_the_edges_of_the_fast_path() {
        for text in [
            "0",
            "000",
            "1.",
            ".5",
            "1.5",
            "999999999999999",
            "9999999999999999",
            "0.1",
            "0.000000000000001",
            "123456789.012345",
            "1e3",
            "+1",
            "-0.5",
            "",
            ".",
            "1..2",
        ] {
            let expected = text.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(decimal(text).map(f64::to_bits), expected, "{text:?}");
        }
    }
}
