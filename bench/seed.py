"""A big dashboard database, inserted in bulk (not through the API).

Defaults: 1,000,000 submissions in 200,000 reports across 20 sites
(BENCH_SUBMISSIONS, BENCH_REPORTS, BENCH_SITES). The SQLite file is kept under
bench/.cache and the PostgreSQL database ``copydesk_bench_dashboard`` is reused
while they hold the same sizes and schema revision.
"""

import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ORIGIN, VENV_BIN, cached_database, copydesk, copydesk_env, env_int  # noqa: E402

EDITOR_EMAIL = "bench@example.com"
EDITOR_PASSWORD = "bench-password-123"
STATUSES = [("new", None)] * 55 + [("confirmed", None)] * 15 + [("closed", "fixed")] * 18 + \
           [("closed", "not_an_error")] * 7 + [("closed", "spam")] * 3 + [("closed", "duplicate")] * 2
START = datetime(2024, 11, 25)
SPAN_SECONDS = 2 * 365 * 24 * 3600


def sizes():
    return (env_int("BENCH_SITES", 20), env_int("BENCH_REPORTS", 200_000),
            env_int("BENCH_SUBMISSIONS", 1_000_000))


def submission_counts(reports, submissions, rng):
    """How many submissions each report gets: at least one, a long tail of popular errors."""
    counts = [1] * reports
    extra = submissions - reports
    weights = [rng.paretovariate(1.3) for _ in range(reports)]
    total = sum(weights)
    for i, w in enumerate(weights):
        counts[i] += int(extra * w / total)
    shortfall = submissions - sum(counts)
    for i in rng.sample(range(reports), shortfall):
        counts[i] += 1
    return counts


def rows(site_count, report_count, submission_count):
    """(sites, reports, submissions) as lists of tuples, ids from 1, in created order."""
    rng = random.Random(20261125)
    now = START
    sites = [(i, f"Site {i:02d}", f"site {i:02d}", f"bench-site-{i:02d}", f'["{ORIGIN}"]', "en", 300, now)
             for i in range(1, site_count + 1)]
    counts = submission_counts(report_count, submission_count, rng)
    times = sorted(START + timedelta(seconds=rng.randrange(SPAN_SECONDS)) for _ in range(report_count))
    reports, submissions = [], []
    sub_id = 0
    for rid in range(1, report_count + 1):
        site_id = rng.randrange(1, site_count + 1)
        status, resolution = rng.choice(STATUSES)
        created = times[rid - 1]
        anchor = f"{rid:064x}"[-64:]
        count = counts[rid - 1]
        last = created + timedelta(seconds=60 * (count - 1))
        reports.append((rid, site_id, None if resolution == "fixed" else anchor, anchor,
                        f"https://site{site_id}.example.com/story/{rid}", f"https://site{site_id}.example.com/story/{rid}",
                        None, f"Story number {rid}", "en", "", "", "", "",
                        f"mistake {rid}", "Before the ", " after it.", rid % 5000,
                        status, resolution, count, None, created, last, last))
        for n in range(count):
            sub_id += 1
            submissions.append((sub_id, rid, site_id, f"seed-{sub_id:010d}", n > 0,
                                "Seen in the lead." if n % 3 == 0 else "", "", None, None,
                                created + timedelta(seconds=60 * n)))
    return sites, reports, submissions


SITE_COLS = "id, name, name_key, key, allowed_origins_json, language, max_selection, created_at"
REPORT_COLS = ("id, site_id, group_key, anchor_key, page_url, page_key, canonical_url, title, lang, "
               "article_id, article_section, article_author, article_published, exact, prefix, suffix, "
               "position, status, resolution, submission_count, previous_report_id, created_at, "
               "updated_at, last_submitted_at")
SUBMISSION_COLS = ("id, report_id, site_id, idempotency_key, joined, comment, suggestion, ip_hash, "
                   "user_agent, created_at")


def _seeded(url, expected):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            if "report" not in names:
                return False
            found = (conn.scalar(sa.text("SELECT count(*) FROM site")),
                     conn.scalar(sa.text("SELECT count(*) FROM report")),
                     conn.scalar(sa.text("SELECT count(*) FROM submission")),
                     conn.scalar(sa.text("SELECT version_num FROM alembic_version")))
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    return found == expected


def _head():
    from alembic.script import ScriptDirectory

    from copydesk import PACKAGE_DIR
    return ScriptDirectory(str(PACKAGE_DIR / "migrations")).get_current_head()


def login(client):
    """Log the seed's editor in on a test client."""
    import re
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": EDITOR_EMAIL, "password": EDITOR_PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, response.status_code


def _add_editor(url, instance):
    env = copydesk_env(url, instance)
    import subprocess
    subprocess.run([str(VENV_BIN / "copydesk"), "editors", "add", EDITOR_EMAIL, "--admin"],
                   input=f"{EDITOR_PASSWORD}\n{EDITOR_PASSWORD}\n", text=True, env=env, check=True,
                   capture_output=True)


def seeded_database(backend, instance):
    """URL of a migrated database holding the seed; made once and then reused."""
    site_count, report_count, submission_count = sizes()
    expected = (site_count, report_count, submission_count, _head())
    url, ready = cached_database(backend, f"dashboard-{site_count}-{report_count}-{submission_count}.sqlite3",
                                 "dashboard", lambda url: _seeded(url, expected))
    if ready:
        return url
    print(f"seeding {backend}: {submission_count:,} submissions in {report_count:,} reports "
          f"across {site_count} sites (once; cached)…", flush=True)
    copydesk("db", "upgrade", env=copydesk_env(url, instance))
    sites, reports, submissions = rows(site_count, report_count, submission_count)
    if backend == "sqlite":
        _load_sqlite(sqlite_path(url), sites, reports, submissions)
    else:
        _load_postgresql(url, sites, reports, submissions)
    _add_editor(url, instance)
    return url


def sqlite_path(url):
    return url.removeprefix("sqlite:///")


def _load_sqlite(path, sites, reports, submissions):
    import sqlite3
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        for table, cols, data in (("site", SITE_COLS, sites), ("report", REPORT_COLS, reports),
                                  ("submission", SUBMISSION_COLS, submissions)):
            marks = ", ".join("?" * len(cols.split(", ")))
            conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", data)
    conn.execute("ANALYZE")
    conn.close()


def _load_postgresql(url, sites, reports, submissions):
    import psycopg
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            for table, cols, data in (("site", SITE_COLS, sites), ("report", REPORT_COLS, reports),
                                      ("submission", SUBMISSION_COLS, submissions)):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
