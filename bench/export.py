"""Export at scale: the report list as CSV and JSON Lines, 1,000,000 reports.

Seeds 1,000,000 reports (one submission each, every third with a suggestion) in bulk,
in chunks, with seed.py's columns and statuses; cached under bench/.cache (SQLite) and in
``copydesk_bench_export`` (PostgreSQL) while the sizes and schema revision hold.

Measured in-process (Flask's test client, logged in as an admin): rows per second while
consuming the stream, and the peak growth of resident memory (VmRSS sampled at every
chunk) over the logged-in app's RSS before any export, for the first 100,000 reports
(the baseline) and then for all of them.
A ratio near 1 is flat memory: the export holds one batch, not the file.

Run: python bench/export.py   (BENCH_BACKENDS=sqlite,postgresql; BENCH_EXPORT_REPORTS)
"""

import os
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ORIGIN, cached_database, copydesk, copydesk_env, each_backend, env_int, save_result  # noqa: E402
from seed import (REPORT_COLS, SITE_COLS, SPAN_SECONDS, START, STATUSES, SUBMISSION_COLS,  # noqa: E402
                  _add_editor, _head, _seeded, login)

SITES = 20
BASELINE = 100_000
CHUNK = 50_000


def chunks(report_count):
    """(reports, submissions) tuples CHUNK at a time, ids from 1, created in id order."""
    step = SPAN_SECONDS / report_count
    for first in range(1, report_count + 1, CHUNK):
        reports, submissions = [], []
        for rid in range(first, min(first + CHUNK, report_count + 1)):
            site_id = rid % SITES + 1
            status, resolution = STATUSES[rid % len(STATUSES)]
            created = START + timedelta(seconds=int(rid * step))
            anchor = f"{rid:064x}"
            url = f"https://site{site_id}.example.com/story/{rid}"
            reports.append((rid, site_id, None if resolution == "fixed" else anchor, anchor, url, url, None,
                            f"Story number {rid}, “quoted”, with a comma", "en", "", "", "", "",
                            f"mistake {rid}", "=Before the ", " after it.\nNext line", rid % 5000,
                            status, resolution, 1, None, created, created, created))
            submissions.append((rid, rid, site_id, f"seed-{rid:010d}", False, "Seen in the lead.",
                                "the fix" if rid % 3 == 0 else "", "f" * 64, "Bench/1.0", created))
        yield reports, submissions


def seeded(backend, instance, report_count):
    expected = (SITES, report_count, report_count, _head())
    url, ready = cached_database(backend, f"export-{SITES}-{report_count}.sqlite3", "export",
                                 lambda url: _seeded(url, expected))
    if ready:
        return url
    print(f"seeding {backend}: {report_count:,} reports (once; cached)…", flush=True)
    copydesk("db", "upgrade", env=copydesk_env(url, instance))
    sites = [(i, f"Site {i:02d}", f"site {i:02d}", f"bench-site-{i:02d}", f'["{ORIGIN}"]', "en", 300, START)
             for i in range(1, SITES + 1)]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table, cols, data in [("site", SITE_COLS, sites)] + [
                item for reports, subs in chunks(report_count)
                for item in (("report", REPORT_COLS, reports), ("submission", SUBMISSION_COLS, subs))]:
            names = cols.split(", ")
            conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + n for n in names)})"),
                         [dict(zip(names, row)) for row in data])
        if backend == "postgresql":
            for table in ("site", "report", "submission"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE" if backend == "sqlite" else "VACUUM ANALYZE"))
    engine.dispose()
    _add_editor(url, instance)
    return url


def rss_bytes():
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024


def export(client, path, before):
    """(rows, seconds, bytes, peak RSS growth in bytes over ``before``) while consuming the stream."""
    peak = rss_bytes()
    start = time.perf_counter()
    response = client.get(path, buffered=False)
    assert response.status_code == 200, response.status_code
    assert response.is_streamed
    sent = lines = 0
    for chunk in response.response:
        sent += len(chunk)
        lines += chunk.count(b"\n")
        peak = max(peak, rss_bytes())
    response.close()
    seconds = time.perf_counter() - start
    # CSV: a header line, and the seed's suffix holds one newline in every row.
    rows = lines if path.startswith("/reports/export.jsonl") else (lines - 1) // 2
    return rows, seconds, sent, peak - before


def measure(backend, instance, report_count):
    from copydesk import create_app
    url = seeded(backend, instance, report_count)
    os.environ["COPYDESK_INSTANCE_PATH"] = str(instance)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-7c41e9a2d05b8f36e1a4c7d92b5f0e83"})
    client = app.test_client()
    login(client)
    # The day the BASELINE-th report was created: "until" that day is the baseline export.
    until = (START + timedelta(seconds=int(BASELINE * SPAN_SECONDS / report_count))).date()
    results = {}
    # Growth is counted from the RSS of the logged-in app before any export.
    before = rss_bytes()
    for fmt in ("csv", "jsonl"):
        base_rows, base_s, _, base_growth = export(client, f"/reports/export.{fmt}?status=all&until={until}", before)
        rows, seconds, sent, growth = export(client, f"/reports/export.{fmt}?status=all", before)
        results[fmt] = {
            "baseline_rows": base_rows, "baseline_rows_per_s": round(base_rows / base_s),
            "baseline_rss_growth_mb": round(base_growth / 2**20, 1),
            "rows": rows, "rows_per_s": round(rows / seconds), "mb": round(sent / 2**20, 1),
            "rss_growth_mb": round(growth / 2**20, 1),
            "growth_ratio": round(growth / base_growth, 2) if base_growth > 0 else None}
        r = results[fmt]
        print(f"{backend} {fmt}: {r['rows']:,} rows, {r['mb']} MB, {r['rows_per_s']:,} rows/s; "
              f"RSS growth {r['rss_growth_mb']} MB vs {r['baseline_rss_growth_mb']} MB for "
              f"{r['baseline_rows']:,} rows (ratio {r['growth_ratio']})", flush=True)
    return results


def main():
    report_count = env_int("BENCH_EXPORT_REPORTS", 1_000_000)
    results = {}
    for backend, instance in each_backend(lambda backend: f"export, {backend}"):
        results[backend] = measure(backend, instance, report_count)
    save_result("export", results)


if __name__ == "__main__":
    main()
