"""The stats page at scale: server time of ``/stats`` on a database of 1,000,000
submissions in 200,000 reports across 20 sites (bench/seed.py's rows), with editors'
events on every report they acted on and articles' sections and authors filled in.

Server time is measured in-process (Flask's test client, logged in as an admin), as in
bench/dashboard.py; the Account page (login, navigation counts, a form) is measured in the same run as the
baseline. The database is its own (bench/.cache/stats-*.sqlite3 and PostgreSQL
``copydesk_bench_stats``), made once and reused while sizes and schema revision hold.

Each stats view is measured twice: "cold:" counts the figures afresh on every request
(the kept figures forgotten first: the first view, and every view after KEEP_SECONDS),
which is the figure the 200 ms target is for; "warm:" serves the figures the process keeps.
A seed made at an earlier schema revision is migrated to head (its rollups backfilled).

Run: python bench/stats.py   (BENCH_SAMPLES per page, default 40)
"""

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (backends, cached_database, copydesk, copydesk_env, each_backend, env_int,  # noqa: E402
                    save_result, timing_summary)
from seed import (REPORT_COLS, _add_editor, _head, _load_postgresql, _load_sqlite, _seeded, login, rows,  # noqa: E402
                  sizes, sqlite_path)

TARGET_P95_MS = 200
SECTIONS = ["Politics", "Business", "Sport", "Culture", "Science", "World", "Local", "Opinion"]
AUTHORS = [f"Author {n:03d}" for n in range(300)]
PAGES_PER_SITE = 2000
EVENT_COLS = "id, report_id, editor_id, kind, from_value, to_value, note, created_at"
COLUMN = {name: i for i, name in enumerate(REPORT_COLS.split(", "))}


def with_articles(reports, site_count):
    """The seed's reports with sections, authors and pages shared by several reports."""
    rng = random.Random(11)
    out = []
    for row in reports:
        row = list(row)
        page = rng.randrange(PAGES_PER_SITE)
        url = f"https://site{row[COLUMN['site_id']]}.example.com/story/{page}"
        row[COLUMN["page_url"]] = row[COLUMN["page_key"]] = url
        row[COLUMN["article_section"]] = SECTIONS[page % len(SECTIONS)]
        row[COLUMN["article_author"]] = AUTHORS[page % len(AUTHORS)]
        out.append(tuple(row))
    return out


def events_for(reports, editor_id):
    """An editor's events on every report not new: a confirmation or a note first, then
    the close with its resolution, hours to days after the report was filed."""
    rng = random.Random(13)
    events, eid = [], 0
    for row in reports:
        rid, status, resolution = row[COLUMN["id"]], row[COLUMN["status"]], row[COLUMN["resolution"]]
        if status == "new":
            continue
        at = row[COLUMN["created_at"]] + timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
        eid += 1
        if rng.random() < 0.5:
            events.append((eid, rid, editor_id, "status", "new", "confirmed", "", at))
        else:
            events.append((eid, rid, editor_id, "note", None, None, "Asked the reporter.", at))
        if status == "closed":
            at += timedelta(minutes=rng.randrange(5, 7 * 24 * 60))
            events.append((eid + 1, rid, editor_id, "status", "confirmed", "closed", "", at))
            events.append((eid + 2, rid, editor_id, "resolution", None, resolution, "", at))
            eid += 2
    return events


def _upgraded(url, expected, instance):
    """Whether the database holds the seed's rows, migrated to head first if it was made
    at an earlier revision (the migrations' backfills are part of what is measured)."""
    if _seeded(url, expected):
        return True
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            revision = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    if not _seeded(url, expected[:3] + (revision,)):
        return False
    print(f"migrating the stats seed from revision {revision} to head…", flush=True)
    copydesk("db", "upgrade", env=copydesk_env(url, instance))
    return _seeded(url, expected)


def seeded_database(backend, instance):
    """URL of a migrated database holding the stats seed; made once and then reused."""
    site_count, report_count, submission_count = sizes()
    expected = (site_count, report_count, submission_count, _head())
    url, ready = cached_database(backend, f"stats-{site_count}-{report_count}-{submission_count}.sqlite3",
                                 "stats", lambda url: _upgraded(url, expected, instance))
    if ready:
        return url
    print(f"seeding {backend}: {submission_count:,} submissions in {report_count:,} reports "
          f"across {site_count} sites, with events (once; cached)…", flush=True)
    copydesk("db", "upgrade", env=copydesk_env(url, instance))
    sites, reports, submissions = rows(site_count, report_count, submission_count)
    reports = with_articles(reports, site_count)
    _add_editor(url, instance)  # editor 1: the events' author
    events = events_for(reports, editor_id=1)
    if backend == "sqlite":
        _load_sqlite(sqlite_path(url), sites, reports, submissions)
        import sqlite3
        conn = sqlite3.connect(sqlite_path(url))
        with conn:
            conn.executemany(f"INSERT INTO event ({EVENT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
        conn.execute("ANALYZE")
        conn.close()
    else:
        _load_postgresql(url, sites, reports, submissions)
        import psycopg
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            with conn.cursor() as cur, cur.copy(f"COPY event ({EVENT_COLS}) FROM STDIN") as copy:
                for row in events:
                    copy.write_row(row)
            conn.commit()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    return url


def timed(app, client, paths, samples, counted):
    """Server time of ``paths`` in turn; ``counted``: every request counts its figures
    anew (the kept figures forgotten first), else the kept figures are served."""
    from copydesk.stats import forget_stats
    for path in paths:
        client.get(path)  # warm the caches a server in use would have warm, and keep each one's figures
    times, cpu = [], []
    for i in range(samples):
        path = paths[i % len(paths)]
        if counted:
            with app.app_context():
                forget_stats()
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    # This process's CPU time: what the load of other processes on the machine leaves out
    # (on PostgreSQL, without the server's share).
    return {**timing_summary(times), "cpu_p50_ms": round(statistics.median(cpu), 2)}


def measure(backend, instance, samples):
    from copydesk import create_app
    from copydesk.db import db
    url = seeded_database(backend, instance)
    os.environ["COPYDESK_INSTANCE_PATH"] = str(instance)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-7c41e9a2d05b8f36e1a4c7d92b5f0e83"})
    client = app.test_client()
    login(client)
    site_count = sizes()[0]
    sites = random.Random(5).sample(range(1, site_count + 1), min(5, site_count))
    pages = {
        "baseline: the Account page": ["/account"],
        "cold: all sites, 30 days (default)": ["/stats"],
        "cold: all sites, 90 days": ["/stats?days=90"],
        "cold: all sites, 365 days": ["/stats?days=365"],
        "cold: one site, 30 days": [f"/stats?site={s}" for s in sites],
        "cold: one site, 90 days": [f"/stats?site={s}&days=90" for s in sites],
        "cold: one site, 365 days": [f"/stats?site={s}&days=365" for s in sites],
    }
    results = {}
    for name, paths in pages.items():
        results[name] = timed(app, client, paths, samples, counted=True)
        if not name.startswith("baseline"):
            results[name.replace("cold:", "warm:")] = timed(app, client, paths, samples, counted=False)
    with app.app_context():
        db.engine.dispose()
    return results


def main():
    samples = env_int("BENCH_SAMPLES", 40)
    site_count, report_count, submission_count = sizes()
    all_results = {}
    for backend, instance in each_backend(lambda backend: (
            f"Stats page on {backend}: {submission_count:,} submissions, {report_count:,} reports, "
            f"{site_count} sites; server time over {samples} requests each")):
        results = measure(backend, instance, samples)
        print(f"{'page':<40}{'p50 ms':>9}{'p95 ms':>9}{'CPU p50':>9}   target p95 ≤ {TARGET_P95_MS} ms")
        for name, figures in results.items():
            flag = "" if name.startswith("baseline") else (
                "ok" if figures["p95_ms"] <= TARGET_P95_MS else "SLOW")
            print(f"{name:<40}{figures['p50_ms']:>9.1f}{figures['p95_ms']:>9.1f}{figures['cpu_p50_ms']:>9.1f}   {flag}")
        all_results[backend] = results
    save_result("stats", all_results)
    return all_results


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:  # only make (or check) the databases
        with tempfile.TemporaryDirectory(prefix="copydesk-bench-") as tmp:
            for backend in backends():
                (Path(tmp) / backend).mkdir()
                print(backend, seeded_database(backend, Path(tmp) / backend))
    else:
        main()
