"""The logs job of `pipelines/logs.ron` as one DuckDB query, the way a logs user would write it:
read the lines, regex out time, status and latency, per-1000-line counts, 5xx counts, latency
sum and p50/p95/p99 (quantile_cont is numpy's "linear" quantile), a 10-window rolling span, and
the same threshold alerts as `logalerts` with its default rules.

    python duckdb_logs.py access.log OUT_DIR [--threads N] [--skip-bad-lines]

writes OUT_DIR/duckdb-alerts.jsonl (one line per alert, ordered by window and rule) and
OUT_DIR/duckdb-stats.csv (one row per window, the columns of `logstats`), and prints wall time
and peak RSS as JSON.

Lines are read as Latin-1 so that every line is counted, as sqrtspace counts every line: a
line with bytes that are not UTF-8 would otherwise stop the read (DuckDB's CSV reader refuses
it) or be skipped (`ignore_errors`), which moves every later window. The pattern only tells
ASCII bytes apart, so a line matches in Latin-1 exactly when it matches with its bad bytes
replaced, as sqrtspace does. The line number is the file's row order (`row_number() OVER ()`
on an order-preserving scan).

`--skip-bad-lines` reads UTF-8 with `ignore_errors` instead: DuckDB's fastest read, which
drops every line that is not UTF-8, so the windows after the first such line hold other lines
than sqrtspace's and the numbers differ. It is there to show what the Latin-1 read costs.
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import duckdb

# sqrtspace_kernels::logs::COMBINED_WITH_TIME; RE2 reads it the same way. Its capturing
# groups in order: time, path, status, latency.
PATTERN = (
    r'^[^ ]+ [^ ]+ [^ ]+ \[(?P<time>[^\]]+)\] "[^ "]+ (?P<path>[^ "]+)(?: [^"]*)?" '
    r'(?P<status>[0-9]{3}) [^ ]+ "[^"]*" "[^"]*" (?P<latency>[0-9]+(?:\.[0-9]+)?)$'
)
WINDOW = 1000
SPAN = 10  # rolling windows: this one and the 9 before
MAX_ERROR_RATIO, MAX_P95_MS, MAX_UNPARSED_RATIO, MIN_LINES = 0.05, 500.0, 0.02, 100.0

STATS = """
CREATE OR REPLACE TEMP TABLE stats AS
WITH parsed AS (
    -- Parsed in parallel first: numbering the raw lines would hold them all in one window.
    SELECT epoch(try_strptime(g.time, '%d/%b/%Y:%H:%M:%S %z')) AS t,
           TRY_CAST(g.status AS DOUBLE) AS status,
           TRY_CAST(g.latency AS DOUBLE) * 1000 AS latency_ms
    FROM (
        SELECT regexp_extract(line, $pattern, ['time', 'path', 'status', 'latency']) AS g
        FROM read_csv($path, columns = {'line': 'VARCHAR'}, delim = '\x1f', quote = '',
                      escape = '', header = false, auto_detect = false, new_line = '\\n',
                      READ_OPTIONS)
    )
),
numbered AS (
    SELECT (row_number() OVER () - 1) // $window AS w, *,
           (status IS NOT NULL AND latency_ms IS NOT NULL AND t IS NOT NULL) AS kept
    FROM parsed
),
windows AS (
    SELECT w,
           count(*)::DOUBLE AS lines,
           count(*) FILTER (NOT kept)::DOUBLE AS unparsed,
           count(*) FILTER (kept)::DOUBLE AS kept,
           count(*) FILTER (kept AND status >= 500)::DOUBLE AS errors,
           coalesce(sum(latency_ms) FILTER (kept), 0) AS latency_sum_ms,
           min(t) FILTER (kept) AS first_time,
           max(t) FILTER (kept) AS last_time,
           quantile_cont(latency_ms, [0.50, 0.95, 0.99]) FILTER (kept) AS q
    FROM numbered
    GROUP BY w
    HAVING count(*) = $window  -- whole windows only, as sqrtspace frames them
)
SELECT * EXCLUDE (q), q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms FROM windows
"""

ALERTS = f"""
WITH rolled AS (
    SELECT *,
           sum(kept) OVER span AS r_kept,
           sum(errors) OVER span AS r_errors,
           sum(unparsed) OVER span AS r_unparsed,
           sum(lines) OVER span AS r_lines,
           min(w) OVER span AS first_window
    FROM stats
    WINDOW span AS (ORDER BY w ROWS BETWEEN {SPAN - 1} PRECEDING AND CURRENT ROW)
),
events AS (
    SELECT w, 0 AS rule, 'error-ratio' AS alert, r_errors / r_kept AS value,
           {MAX_ERROR_RATIO} AS threshold, first_window
    FROM rolled WHERE r_kept >= {MIN_LINES} AND r_errors / r_kept > {MAX_ERROR_RATIO}
    UNION ALL
    SELECT w, 1, 'latency-p95', p95_ms, {MAX_P95_MS}, w
    FROM rolled WHERE kept > 0 AND p95_ms > {MAX_P95_MS}
    UNION ALL
    SELECT w, 3, 'unparsed', r_unparsed / r_lines, {MAX_UNPARSED_RATIO}, first_window
    FROM rolled WHERE r_unparsed / r_lines > {MAX_UNPARSED_RATIO}
)
SELECT w AS window, [w * {WINDOW}, w * {WINDOW} + {WINDOW}] AS lines, alert, value, threshold,
       [first_window * {WINDOW}, w * {WINDOW} + {WINDOW}] AS evidence
FROM events ORDER BY w, rule
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log")
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="read UTF-8 and drop lines that are not (faster, other numbers)")
    args = parser.parse_args()
    read = "ignore_errors = true" if args.skip_bad_lines else "encoding = 'latin-1'"
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute(STATS.replace("READ_OPTIONS", read),
                {"path": args.log, "window": WINDOW, "pattern": PATTERN})
    alerts = args.out / "duckdb-alerts.jsonl"
    con.execute(f"COPY ({ALERTS}) TO '{alerts}' (FORMAT json)")
    con.execute(f"COPY (SELECT * FROM stats ORDER BY w) TO '{args.out / 'duckdb-stats.csv'}' (HEADER)")
    wall = time.perf_counter() - started
    peak = None
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    windows = con.execute("SELECT count(*) FROM stats").fetchone()[0]
    print(json.dumps({"wall_secs": wall, "peak_rss_bytes": peak, "rows": windows}))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
