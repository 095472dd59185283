//! Deterministic synthetic web-server access logs with incidents at known line ranges: the
//! input of the logs pipeline, its benchmark, and the ground truth its alerts are checked
//! against.
//!
//! Each line is nginx's "combined" format followed by the request time in seconds:
//!
//! ```text
//! 198.51.100.7 - - [01/Jan/2026:00:00:00 +0000] "GET /api/items/4211 HTTP/1.1" 200 5123 "-" "curl/8.5.0" 0.021
//! ```
//!
//! Traffic is a steady mix (mostly 200s, some 304s and 404s, a few 5xx, request times around
//! 20–60 ms). Incidents are placed at fixed fractions of the file, so that a file of any
//! length has them: an **error burst** (40% of requests answer 5xx) and a **latency spike**
//! (request times of 0.5–2.5 s), each 1% of the lines long (at least 2,000 lines). About one
//! line in 20,000 is damaged (cut short) and one in 40,000 carries a byte that is not UTF-8, so
//! that readers meet both. Line `n` depends only on `n`, the seed and the file's length, and
//! the file is written a line at a time, in constant memory.

use std::io::Write;
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use sqrtspace::io::{OutputError, write_atomically};

/// What went wrong in an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    /// Many requests answer 5xx.
    ErrorBurst,
    /// Requests take 0.5–2.5 s.
    LatencySpike,
}

/// An incident: lines `first..end` (0-based, end excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// What happens.
    pub kind: IncidentKind,
    /// Its first line.
    pub first: u64,
    /// The line after its last.
    pub end: u64,
}

/// Where the incidents of a file of `lines` lines are: at 20%, 45% and 75% of the file.
pub fn incidents(lines: u64) -> Vec<Incident> {
    let width = (lines / 100).max(2_000);
    [
        (0.20, IncidentKind::ErrorBurst),
        (0.45, IncidentKind::LatencySpike),
        (0.75, IncidentKind::ErrorBurst),
    ]
    .into_iter()
    .filter_map(|(at, kind)| {
        let first = (lines as f64 * at) as u64;
        let end = (first + width).min(lines);
        (first < end && lines >= 3 * width).then_some(Incident { kind, first, end })
    })
    .collect()
}

const PATHS: [&str; 8] = [
    "/",
    "/index.html",
    "/api/items/",
    "/api/users/",
    "/static/app.js",
    "/static/style.css",
    "/login",
    "/search?q=",
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "curl/8.5.0",
    "python-requests/2.32.3",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// 2026-01-01T00:00:00Z.
const START: u64 = 1_767_225_600;
/// Requests per second of log time.
const RATE: u64 = 200;

/// Streams log lines.
#[derive(Debug)]
pub struct LogGenerator {
    lines: u64,
    next: u64,
    incidents: Vec<Incident>,
    rng: ChaCha8Rng,
}

impl LogGenerator {
    /// A file of `lines` lines from `seed`.
    pub fn new(lines: u64, seed: u64) -> LogGenerator {
        LogGenerator {
            lines,
            next: 0,
            incidents: incidents(lines),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The incidents this file has.
    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    fn below(&mut self, n: u32) -> u32 {
        // Multiply-shift: uniform enough for a log generator, and no modulo bias worth noting.
        ((u64::from(self.rng.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// Appends the next line (with its newline) to `out`; false when the file is complete.
    pub fn next_line(&mut self, out: &mut Vec<u8>) -> bool {
        if self.next >= self.lines {
            return false;
        }
        let n = self.next;
        self.next += 1;
        let incident = self
            .incidents
            .iter()
            .find(|i| (i.first..i.end).contains(&n))
            .map(|i| i.kind);
        let ip = [198, 51, 100, self.below(254) as u8 + 1];
        let path = PATHS[self.below(PATHS.len() as u32) as usize];
        let id = self.below(10_000);
        let roll = self.below(10_000);
        let status = match incident {
            Some(IncidentKind::ErrorBurst) if roll < 4_000 => {
                [500, 502, 503, 504][(roll % 4) as usize]
            }
            _ if roll < 9_300 => 200,
            _ if roll < 9_600 => 304,
            _ if roll < 9_950 => 404,
            _ => 500,
        };
        let bytes = if status == 304 {
            0
        } else {
            200 + self.below(20_000)
        };
        let millis = match incident {
            Some(IncidentKind::LatencySpike) => 500 + self.below(2_000),
            _ => {
                20 + self.below(40)
                    + if self.below(100) == 0 {
                        self.below(400)
                    } else {
                        0
                    }
            }
        };
        let agent = AGENTS[self.below(AGENTS.len() as u32) as usize];
        let damage = self.below(40_000);
        let secs = START + n / RATE;
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let clock = secs % 86_400;
        let start = out.len();
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "{}.{}.{}.{} - - [{:02}/{}/{}:{:02}:{:02}:{:02} +0000] \"GET {}{} HTTP/1.1\" {} {} \"-\" \"{}\" {}.{:03}",
            ip[0],
            ip[1],
            ip[2],
            ip[3],
            day,
            MONTHS[(month - 1) as usize],
            year,
            clock / 3600,
            clock % 3600 / 60,
            clock % 60,
            path,
            if path.ends_with('/') || path.ends_with('=') {
                id.to_string()
            } else {
                String::new()
            },
            status,
            bytes,
            agent,
            millis / 1000,
            millis % 1000,
        );
        match damage {
            // Cut short, as a log rotated mid-write leaves it.
            0 | 1 => out.truncate(start + (out.len() - start) / 2),
            // A byte that is not UTF-8 in the user agent.
            2 => {
                if let Some(quote) = out[start..].iter().rposition(|&b| b == b'"') {
                    out.insert(start + quote, 0xff);
                }
            }
            _ => {}
        }
        out.push(b'\n');
        true
    }
}

/// (year, month 1–12, day 1–31) of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes `lines` lines from `seed` to `path` (through a temporary file renamed into place) and
/// the incidents, one JSON object per line, to `truth`. Returns the incidents.
pub fn write_logs(
    path: &Path,
    truth: &Path,
    lines: u64,
    seed: u64,
) -> Result<Vec<Incident>, OutputError> {
    let mut generator = LogGenerator::new(lines, seed);
    let incidents = generator.incidents().to_vec();
    let mut truth_text = String::new();
    for incident in &incidents {
        truth_text.push_str(&serde_json::to_string(incident).unwrap_or_default());
        truth_text.push('\n');
    }
    write_atomically(path, |out| {
        let mut buf = Vec::with_capacity(1 << 16);
        while generator.next_line(&mut buf) {
            if buf.len() >= 1 << 16 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    })?;
    write_atomically(truth, |out| out.write_all(truth_text.as_bytes()))?;
    Ok(incidents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: u64, seed: u64) -> Vec<Vec<u8>> {
        let mut g = LogGenerator::new(n, seed);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while g.next_line(&mut buf) {
            out.push(std::mem::take(&mut buf));
        }
        out
    }

    #[test]
    fn dates_match_the_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_453), (2025, 12, 31));
    }

    #[test]
    fn the_same_seed_gives_the_same_file_and_another_seed_another() {
        assert_eq!(lines(3_000, 7), lines(3_000, 7));
        assert_ne!(lines(3_000, 7), lines(3_000, 8));
        assert_eq!(lines(3_000, 7).len(), 3_000);
    }

    #[test]
    fn incidents_show_in_the_lines_and_nowhere_else() {
        let n = 400_000;
        let all = lines(n, 1);
        let found = incidents(n);
        assert_eq!(found.len(), 3);
        let status = |l: &[u8]| {
            let text = String::from_utf8_lossy(l);
            let after = text.split("HTTP/1.1\" ").nth(1)?.to_string();
            after.split(' ').next()?.parse::<u32>().ok()
        };
        let latency = |l: &[u8]| {
            String::from_utf8_lossy(l)
                .trim_end()
                .rsplit(' ')
                .next()?
                .parse::<f64>()
                .ok()
        };
        let share = |range: std::ops::Range<u64>, f: &dyn Fn(&[u8]) -> bool| {
            let hits = range.clone().filter(|&i| f(&all[i as usize])).count();
            hits as f64 / (range.end - range.start) as f64
        };
        let is_5xx = |l: &[u8]| status(l).is_some_and(|s| s >= 500);
        let slow = |l: &[u8]| latency(l).is_some_and(|s| s >= 0.5);
        for i in &found {
            let (errors, slowness) = (share(i.first..i.end, &is_5xx), share(i.first..i.end, &slow));
            match i.kind {
                IncidentKind::ErrorBurst => assert!(errors > 0.35 && slowness < 0.01, "{i:?}"),
                IncidentKind::LatencySpike => assert!(slowness > 0.99 && errors < 0.02, "{i:?}"),
            }
        }
        // Quiet stretches between them.
        assert!(share(0..found[0].first, &is_5xx) < 0.01);
        assert!(share(0..found[0].first, &slow) < 0.01);
        let damaged = all.iter().filter(|l| status(l).is_none()).count();
        let not_utf8 = all
            .iter()
            .filter(|l| std::str::from_utf8(l).is_err())
            .count();
        assert!((5..=60).contains(&damaged), "{damaged} damaged lines");
        assert!(
            (2..=30).contains(&not_utf8),
            "{not_utf8} lines that are not UTF-8"
        );
    }
}
