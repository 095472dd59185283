//! Access-log analytics, the native core of the sqrtspace log plugins (`logparse`,
//! `logstats`, `logrolling`, `logalerts`): each plugin is one of these functions
//! wrapped by the SDK, and the host's tests use the same functions as references.
//!
//! The stages and the rows between them:
//!
//! | stage      | one row in                    | one row out                                  |
//! |------------|-------------------------------|----------------------------------------------|
//! | parse      | `window` lines of text        | `window x 4` f64: [`field`]s of each line     |
//! | stats      | that                          | [`stat`]s of the window: counts, sums, p50/p95/p99 |
//! | rolling    | stats of this and earlier windows (declared context) | [`roll`]: rate, error ratio, mean latency |
//! | alerts     | rolling and stats             | one text element per [`Rule`]: a JSON event or empty |
//!
//! Every sum runs in f64 in line order and quantiles are exact, so a window's numbers do not
//! depend on how the stream was cut into blocks.

use std::fmt;
use std::ops::Range;

use regex::Regex;

mod combined;
use serde::{Deserialize, Serialize};

/// Columns of a parsed line.
pub mod field {
    /// HTTP status.
    pub const STATUS: usize = 0;
    /// Request time, milliseconds.
    pub const LATENCY_MS: usize = 1;
    /// When the request was logged, seconds since 1970 (NaN when the pattern has no time).
    pub const TIME: usize = 2;
    /// [`super::KEPT`], [`super::FILTERED`] or [`super::UNPARSED`].
    pub const FLAG: usize = 3;
    /// Columns per line.
    pub const COUNT: usize = 4;
}

/// The line parsed and passed the filter.
pub const KEPT: f64 = 1.0;
/// The line parsed but its path did not pass the filter.
pub const FILTERED: f64 = 0.0;
/// The line did not match the pattern (cut short, another format): counted, never fatal.
pub const UNPARSED: f64 = -1.0;

/// nginx's "combined" format followed by `$request_time` (seconds). Written so that at each
/// byte only one way forward matches (no two adjacent parts can take the same byte), which
/// lets the regex engine use its one-pass matcher for the captures: several times faster.
pub const COMBINED_WITH_TIME: &str = r#"^[^ ]+ [^ ]+ [^ ]+ \[(?P<time>[^\]]+)\] "[^ "]+ (?P<path>[^ "]+)(?: [^"]*)?" (?P<status>[0-9]{3}) [^ ]+ "[^"]*" "[^"]*" (?P<latency>[0-9]+(?:\.[0-9]+)?)$"#;

/// Unit of the `latency` group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum LatencyUnit {
    /// Seconds, as nginx's `$request_time` writes it.
    #[default]
    Seconds,
    /// Milliseconds.
    Millis,
}

/// Parameters of the parse stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParseParams {
    /// A regex with the named groups `status` and `latency`, and optionally `time`
    /// (`01/Jan/2026:00:00:00 +0000`) and `path`; nginx combined + request time when absent.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Keep only lines whose path matches this regex (the others count as filtered).
    #[serde(default)]
    pub path: Option<String>,
    /// Unit of the `latency` group.
    #[serde(default)]
    pub latency_unit: LatencyUnit,
}

/// A compiled parse stage.
#[derive(Debug, Clone)]
pub struct Parser {
    matcher: Matcher,
    path: Option<Regex>,
    latency_scale: f64,
}

/// How a parse stage finds the groups of a line.
#[derive(Debug, Clone)]
enum Matcher {
    /// [`COMBINED_WITH_TIME`], by the hand-written scanner that finds what its regex finds.
    Combined,
    /// Any other pattern.
    Regex {
        pattern: Regex,
        /// Indices of the groups `status`, `latency`, `time` and `path`.
        groups: [Option<usize>; 4],
        locations: std::cell::RefCell<regex::CaptureLocations>,
    },
}

impl Matcher {
    /// The spans of `status`, `latency`, `time` and `path` in `line`, if it matches.
    fn find(&self, line: &str) -> Option<[Option<Range<usize>>; 4]> {
        match self {
            Matcher::Combined => {
                let g = combined::scan(line)?;
                Some([Some(g.status), Some(g.latency), Some(g.time), Some(g.path)])
            }
            Matcher::Regex {
                pattern,
                groups,
                locations,
            } => {
                let mut locations = locations.borrow_mut();
                pattern.captures_read(&mut locations, line)?;
                Some(groups.map(|g| {
                    let (start, end) = locations.get(g?)?;
                    Some(start..end)
                }))
            }
        }
    }
}

impl Parser {
    /// Compiles the pattern and the filter; names what is wrong with them.
    pub fn new(params: &ParseParams) -> Result<Parser, String> {
        let source = params.pattern.as_deref().unwrap_or(COMBINED_WITH_TIME);
        let pattern = Regex::new(source).map_err(|e| format!("pattern: {e}"))?;
        let names: Vec<&str> = pattern.capture_names().flatten().collect();
        let index = |name: &str| pattern.capture_names().position(|n| n == Some(name));
        let groups = [
            index("status"),
            index("latency"),
            index("time"),
            index("path"),
        ];
        for needed in ["status", "latency"] {
            if !names.contains(&needed) {
                return Err(format!("pattern has no named group `{needed}`"));
            }
        }
        let path = match &params.path {
            Some(filter) if !names.contains(&"path") => {
                return Err(format!(
                    "path filter `{filter}` needs a named group `path` in the pattern"
                ));
            }
            Some(filter) => Some(Regex::new(filter).map_err(|e| format!("path: {e}"))?),
            None => None,
        };
        let matcher = if source == COMBINED_WITH_TIME {
            Matcher::Combined
        } else {
            Matcher::Regex {
                locations: std::cell::RefCell::new(pattern.capture_locations()),
                groups,
                pattern,
            }
        };
        Ok(Parser {
            matcher,
            path,
            latency_scale: match params.latency_unit {
                LatencyUnit::Seconds => 1e3,
                LatencyUnit::Millis => 1.0,
            },
        })
    }

    /// The [`field`]s of one line.
    pub fn parse(&self, line: &str) -> [f64; field::COUNT] {
        let mut out = [f64::NAN, f64::NAN, f64::NAN, UNPARSED];
        let Some(spans) = self.matcher.find(line) else {
            return out;
        };
        let group = |i: usize| line.get(spans[i].clone()?);
        let number = |i: usize| group(i).and_then(combined::decimal);
        let (Some(status), Some(latency)) = (number(0), number(1)) else {
            return out;
        };
        let time = match group(2) {
            Some(text) => match combined::common_log_time(text) {
                Some(t) => t,
                None => return out,
            },
            None => f64::NAN,
        };
        let kept = match (&self.path, group(3)) {
            (Some(filter), Some(path)) => filter.is_match(path),
            _ => true,
        };
        out[field::STATUS] = status;
        out[field::LATENCY_MS] = latency * self.latency_scale;
        out[field::TIME] = time;
        out[field::FLAG] = if kept { KEPT } else { FILTERED };
        out
    }
}

/// Seconds since 1970 of a common-log time, `01/Jan/2026:00:00:00 +0000`.
pub fn parse_time(text: &str) -> Option<f64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (date, zone) = text.split_once(' ')?;
    let mut parts = date.split(['/', ':']);
    let mut num = |max: i64| -> Option<i64> {
        let v: i64 = parts.next()?.parse().ok()?;
        (0..=max).contains(&v).then_some(v)
    };
    let day = num(31)?;
    let month = MONTHS.iter().position(|m| Some(*m) == date.get(3..6))? as i64 + 1;
    let _ = num(i64::MAX); // the month's name, already read
    let year = num(9999)?;
    let (hour, minute, second) = (num(23)?, num(59)?, num(60)?);
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset: i64 = zone.get(1..)?.parse().ok()?;
    let offset = sign * (offset / 100 * 3600 + offset % 100 * 60);
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset) as f64)
}

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Columns of a window's stats.
pub mod stat {
    /// Lines in the window.
    pub const LINES: usize = 0;
    /// Lines that did not parse.
    pub const UNPARSED: usize = 1;
    /// Lines kept (parsed and passed the filter).
    pub const KEPT: usize = 2;
    /// Kept lines with a 5xx status.
    pub const ERRORS: usize = 3;
    /// Sum of the kept lines' latencies, ms.
    pub const LATENCY_SUM_MS: usize = 4;
    /// Earliest time of a kept line (NaN without times or kept lines).
    pub const FIRST_TIME: usize = 5;
    /// Latest time of a kept line.
    pub const LAST_TIME: usize = 6;
    /// Median latency of the kept lines, ms (NaN without kept lines).
    pub const P50_MS: usize = 7;
    /// 95th percentile latency, ms.
    pub const P95_MS: usize = 8;
    /// 99th percentile latency, ms.
    pub const P99_MS: usize = 9;
    /// Columns.
    pub const COUNT: usize = 10;
}

pub use crate::quantile::quantile;

/// The [`stat`]s of one window of parsed lines (`lines` holds [`field::COUNT`] values per
/// line); `scratch` is reused for the latencies.
pub fn window_stats(lines: &[f64], scratch: &mut Vec<f64>) -> [f64; stat::COUNT] {
    let mut out = [0.0; stat::COUNT];
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    scratch.clear();
    for line in lines.chunks_exact(field::COUNT) {
        out[stat::LINES] += 1.0;
        if line[field::FLAG] == UNPARSED {
            out[stat::UNPARSED] += 1.0;
        }
        if line[field::FLAG] != KEPT {
            continue;
        }
        out[stat::KEPT] += 1.0;
        if line[field::STATUS] >= 500.0 {
            out[stat::ERRORS] += 1.0;
        }
        out[stat::LATENCY_SUM_MS] += line[field::LATENCY_MS];
        first = first.min(line[field::TIME]);
        last = last.max(line[field::TIME]);
        scratch.push(line[field::LATENCY_MS]);
    }
    let finite = |v: f64| if v.is_finite() { v } else { f64::NAN };
    out[stat::FIRST_TIME] = finite(first);
    out[stat::LAST_TIME] = finite(last);
    out[stat::P50_MS] = quantile(scratch, 0.50);
    out[stat::P95_MS] = quantile(scratch, 0.95);
    out[stat::P99_MS] = quantile(scratch, 0.99);
    out
}

/// Parameters of the rolling stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollingParams {
    /// Windows the aggregates cover: this one and `windows - 1` before it (fewer at the start
    /// of the stream).
    pub windows: usize,
}

/// Columns of a rolling aggregate.
pub mod roll {
    /// Kept lines in the span.
    pub const KEPT: usize = 0;
    /// Kept lines per second of log time over the span (NaN without times, or when the span
    /// covers less than a second).
    pub const RATE: usize = 1;
    /// 5xx answers over kept lines (NaN without kept lines).
    pub const ERROR_RATIO: usize = 2;
    /// Mean latency of the kept lines, ms.
    pub const MEAN_LATENCY_MS: usize = 3;
    /// Unparsed lines over all lines.
    pub const UNPARSED_RATIO: usize = 4;
    /// The span's first window.
    pub const FIRST_WINDOW: usize = 5;
    /// Columns.
    pub const COUNT: usize = 6;
}

/// The [`roll`] aggregates over `span`, the [`stat`] rows of consecutive windows, the first of
/// them window `first_window`.
pub fn rolling(span: &[[f64; stat::COUNT]], first_window: u64) -> [f64; roll::COUNT] {
    let sum = |c: usize| span.iter().map(|s| s[c]).sum::<f64>();
    let (lines, kept) = (sum(stat::LINES), sum(stat::KEPT));
    let first = span
        .iter()
        .map(|s| s[stat::FIRST_TIME])
        .fold(f64::NAN, f64::min);
    let last = span
        .iter()
        .map(|s| s[stat::LAST_TIME])
        .fold(f64::NAN, f64::max);
    let ratio = |n: f64, d: f64| if d > 0.0 { n / d } else { f64::NAN };
    let seconds = last - first;
    let mut out = [0.0; roll::COUNT];
    out[roll::KEPT] = kept;
    out[roll::RATE] = if seconds >= 1.0 {
        kept / seconds
    } else {
        f64::NAN
    };
    out[roll::ERROR_RATIO] = ratio(sum(stat::ERRORS), kept);
    out[roll::MEAN_LATENCY_MS] = ratio(sum(stat::LATENCY_SUM_MS), kept);
    out[roll::UNPARSED_RATIO] = ratio(sum(stat::UNPARSED), lines);
    out[roll::FIRST_WINDOW] = first_window as f64;
    out
}

/// What an alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The rolling 5xx ratio is above `max_error_ratio`.
    ErrorRatio,
    /// The window's p95 latency is above `max_p95_ms`.
    LatencyP95,
    /// The rolling rate is outside `min_rate..=max_rate`.
    Rate,
    /// The rolling share of lines that do not parse is above `max_unparsed_ratio`.
    Unparsed,
}

impl Rule {
    /// Every rule, in the order of the alert stage's output elements.
    pub const ALL: [Rule; 4] = [
        Rule::ErrorRatio,
        Rule::LatencyP95,
        Rule::Rate,
        Rule::Unparsed,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::ErrorRatio => "error-ratio",
            Rule::LatencyP95 => "latency-p95",
            Rule::Rate => "rate",
            Rule::Unparsed => "unparsed",
        })
    }
}

/// Thresholds of the alert stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// Highest rolling 5xx ratio that does not alert.
    #[serde(default = "default_error_ratio")]
    pub max_error_ratio: f64,
    /// Highest window p95 latency (ms) that does not alert.
    #[serde(default = "default_p95")]
    pub max_p95_ms: f64,
    /// Lowest rolling rate (kept lines per second) that does not alert; none when absent.
    #[serde(default)]
    pub min_rate: Option<f64>,
    /// Highest rolling rate that does not alert; none when absent.
    #[serde(default)]
    pub max_rate: Option<f64>,
    /// Highest rolling share of unparsable lines that does not alert.
    #[serde(default = "default_unparsed")]
    pub max_unparsed_ratio: f64,
    /// Fewest kept lines a span needs for its ratios and rates to be judged.
    #[serde(default = "default_min_lines")]
    pub min_lines: f64,
}

fn default_error_ratio() -> f64 {
    0.05
}
fn default_p95() -> f64 {
    500.0
}
fn default_unparsed() -> f64 {
    0.02
}
fn default_min_lines() -> f64 {
    100.0
}

impl Default for AlertParams {
    fn default() -> Self {
        AlertParams {
            max_error_ratio: default_error_ratio(),
            max_p95_ms: default_p95(),
            min_rate: None,
            max_rate: None,
            max_unparsed_ratio: default_unparsed(),
            min_lines: default_min_lines(),
        }
    }
}

/// Where a window sits in the file: it holds lines `first..end` of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The window.
    pub window: u64,
    /// Lines per window.
    pub lines: u64,
    /// Lines between window starts.
    pub hop: u64,
}

#[derive(Serialize)]
struct Event {
    window: u64,
    /// The window's lines, `[first, end)`.
    lines: [u64; 2],
    alert: Rule,
    value: f64,
    threshold: f64,
    /// The lines the value was computed over (the rolling span, or the window).
    evidence: [u64; 2],
}

/// The alerts of one window: for each [`Rule`] in order, a JSON event or an empty string.
pub fn alerts(
    at: Span,
    rolled: &[f64; roll::COUNT],
    stats: &[f64; stat::COUNT],
    params: &AlertParams,
) -> [String; Rule::ALL.len()] {
    let first_line = |w: u64| w * at.hop;
    let window_lines = [first_line(at.window), first_line(at.window) + at.lines];
    let span_lines = [
        first_line(rolled[roll::FIRST_WINDOW] as u64),
        window_lines[1],
    ];
    let judged = rolled[roll::KEPT] >= params.min_lines;
    let above = |v: f64, limit: f64| (v > limit).then_some((v, limit));
    Rule::ALL.map(|rule| {
        let fired = match rule {
            Rule::ErrorRatio if judged => above(rolled[roll::ERROR_RATIO], params.max_error_ratio),
            Rule::LatencyP95 if stats[stat::KEPT] > 0.0 => {
                above(stats[stat::P95_MS], params.max_p95_ms)
            }
            Rule::Rate if judged => {
                let rate = rolled[roll::RATE];
                match (params.min_rate, params.max_rate) {
                    (Some(min), _) if rate < min => Some((rate, min)),
                    (_, Some(max)) if rate > max => Some((rate, max)),
                    _ => None,
                }
            }
            Rule::Unparsed => above(rolled[roll::UNPARSED_RATIO], params.max_unparsed_ratio),
            _ => None,
        };
        let Some((value, threshold)) = fired else {
            return String::new();
        };
        let evidence = match rule {
            Rule::LatencyP95 => window_lines,
            _ => span_lines,
        };
        serde_json::to_string(&Event {
            window: at.window,
            lines: window_lines,
            alert: rule,
            value,
            threshold,
            evidence,
        })
        .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"198.51.100.7 - - [01/Jan/2026:00:00:05 +0000] "GET /api/items/4211 HTTP/1.1" 503 5123 "-" "curl/8.5.0" 0.021"#;

    #[test]
    fn parses_combined_lines_and_counts_what_does_not_parse() {
        let parser = Parser::new(&ParseParams::default()).expect("default pattern");
        let f = parser.parse(LINE);
        assert_eq!(f[field::STATUS], 503.0);
        assert_eq!(f[field::LATENCY_MS], 21.0);
        assert_eq!(f[field::TIME], 1_767_225_605.0);
        assert_eq!(f[field::FLAG], KEPT);
        assert_eq!(parser.parse(&LINE[..60])[field::FLAG], UNPARSED);
        assert_eq!(parser.parse("")[field::FLAG], UNPARSED);
        let agent = LINE.replace("curl", "cu\u{fffd}rl");
        assert_eq!(parser.parse(&agent)[field::FLAG], KEPT, "a replaced byte");
        let api = Parser::new(&ParseParams {
            path: Some("^/static/".into()),
            ..ParseParams::default()
        })
        .expect("filter");
        assert_eq!(api.parse(LINE)[field::FLAG], FILTERED);
    }

    #[test]
    fn patterns_without_the_groups_are_refused() {
        let bad = |pattern: &str, path: Option<&str>| {
            Parser::new(&ParseParams {
                pattern: Some(pattern.into()),
                path: path.map(str::to_string),
                ..ParseParams::default()
            })
            .expect_err("refused")
        };
        assert_eq!(
            bad("(?P<status>\\d+)", None),
            "pattern has no named group `latency`"
        );
        assert!(bad("(", None).starts_with("pattern: "));
        assert_eq!(
            bad("(?P<status>\\d+) (?P<latency>\\d+)", Some("^/api")),
            "path filter `^/api` needs a named group `path` in the pattern"
        );
    }

    #[test]
    fn times_honour_their_zone_and_calendar() {
        assert_eq!(parse_time("01/Jan/1970:00:00:00 +0000"), Some(0.0));
        assert_eq!(parse_time("01/Jan/1970:01:00:00 +0100"), Some(0.0));
        assert_eq!(
            parse_time("29/Feb/2024:12:30:00 -0230"),
            Some(1_709_218_800.0)
        );
        assert_eq!(parse_time("29/Foo/2024:12:30:00 +0000"), None);
        assert_eq!(parse_time("29/Feb/2024:25:30:00 +0000"), None);
    }

    #[test]
    fn quantiles_match_sorting_and_numpy_linear() {
        let mut v = vec![15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(quantile(&mut v, 0.4), 29.0);
        assert_eq!(quantile(&mut v, 0.0), 15.0);
        assert_eq!(quantile(&mut v, 1.0), 50.0);
        assert!(quantile(&mut [], 0.5).is_nan());
        let mut state = 12345u64;
        let mut values: Vec<f64> = (0..1001)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 40) as f64 / 7.0
            })
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for (q, rank) in [(0.5, 500), (0.95, 950), (0.99, 990)] {
            assert_eq!(quantile(&mut values, q).to_bits(), sorted[rank].to_bits());
        }
    }

    #[test]
    fn alerts_name_the_rule_the_window_and_the_evidence() {
        let mut stats = [0.0; stat::COUNT];
        stats[stat::KEPT] = 1000.0;
        stats[stat::P95_MS] = 900.0;
        let mut rolled = [0.0; roll::COUNT];
        rolled[roll::KEPT] = 5000.0;
        rolled[roll::ERROR_RATIO] = 0.2;
        rolled[roll::FIRST_WINDOW] = 3.0;
        rolled[roll::RATE] = 150.0;
        let at = Span {
            window: 7,
            lines: 1000,
            hop: 1000,
        };
        let params = AlertParams {
            min_rate: Some(180.0),
            ..AlertParams::default()
        };
        let [errors, latency, rate, unparsed] = alerts(at, &rolled, &stats, &params);
        assert_eq!(
            errors,
            r#"{"window":7,"lines":[7000,8000],"alert":"error-ratio","value":0.2,"threshold":0.05,"evidence":[3000,8000]}"#
        );
        assert!(
            latency.contains(r#""alert":"latency-p95","value":900.0"#),
            "{latency}"
        );
        assert!(latency.contains(r#""evidence":[7000,8000]"#), "{latency}");
        assert!(
            rate.contains(r#""alert":"rate","value":150.0,"threshold":180.0"#),
            "{rate}"
        );
        assert_eq!(unparsed, "");
        rolled[roll::KEPT] = 50.0;
        let quiet = alerts(at, &rolled, &stats, &params);
        assert_eq!(
            (quiet[0].as_str(), quiet[2].as_str()),
            ("", ""),
            "too few lines to judge"
        );
    }
}
