"""Dashboard at scale: server time of the pages editors use, on a seeded database of
1,000,000 submissions in 200,000 reports across 20 sites.

Server time is measured in-process (Flask's test client, logged in as an editor), so
it is the time to run the queries and render the page, without the network.

Run: python bench/dashboard.py   (BENCH_SAMPLES per page, default 60)
"""

import os
import random
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import each_backend, env_int, save_result, timing_summary  # noqa: E402
from seed import EDITOR_EMAIL, login, seeded_database, sizes  # noqa: E402

TARGET_P95_MS = 50


def timed(client, paths, samples, before=None):
    times = []
    for i in range(samples):
        path = paths[i % len(paths)]
        if before:
            before()
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return timing_summary(times)


def deep_cursors(app, site_ids, sort):
    """Cursors 90% of the way down each site's list of new reports."""
    from copydesk.db import db
    from copydesk.models import Report
    cursors = []
    with app.app_context():
        for site_id in site_ids:
            query = sa.select(Report.submission_count, Report.id).where(
                Report.site_id == site_id, Report.status == "new")
            total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
            order = [Report.submission_count.desc(), Report.id.desc()] if sort == "most" else [Report.id.desc()]
            row = db.session.execute(query.order_by(*order).offset(int(total * 0.9)).limit(1)).first()
            cursors.append(f"{row.submission_count}:{row.id}" if sort == "most" else str(row.id))
    return cursors


def measure(backend, instance, samples):
    from copydesk import create_app
    from copydesk.dashboard import status_counts
    from copydesk.db import db
    url = seeded_database(backend, instance)
    os.environ["COPYDESK_INSTANCE_PATH"] = str(instance)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-7c41e9a2d05b8f36e1a4c7d92b5f0e83"})
    client = app.test_client()
    login(client)
    site_count, report_count, _ = sizes()
    rng = random.Random(7)
    sites = [rng.randrange(1, site_count + 1) for _ in range(20)]
    report_ids = [rng.randrange(1, report_count + 1) for _ in range(samples)]
    deep_newest, deep_most = deep_cursors(app, sites[:5], "newest"), deep_cursors(app, sites[:5], "most")
    pages = {
        "list: site + status=new, newest first": [f"/reports?site={s}&status=new" for s in sites],
        "list: site + status=new, most reported first": [f"/reports?site={s}&status=new&sort=most" for s in sites],
        "list: all sites, open, newest first": ["/reports"],
        "list: all sites, closed, most reported first": ["/reports?status=closed&sort=most"],
        "deep page (keyset, 90% down), newest": [f"/reports?site={s}&status=new&after={c}"
                                                 for s, c in zip(sites, deep_newest)],
        "deep page (keyset, 90% down), most reported": [f"/reports?site={s}&status=new&sort=most&after={c}"
                                                        for s, c in zip(sites, deep_most)],
        "detail page": [f"/reports/{rid}" for rid in report_ids],
    }
    results = {}
    for name, paths in pages.items():
        for path in paths[:3]:
            client.get(path)  # warm the caches a server in use would have warm
        results[name] = timed(client, paths, samples)
    # The nav's counts are reused for a few seconds; this is the page that recounts them.
    results["list: site + status=new, nav counts recounted"] = timed(
        client, pages["list: site + status=new, newest first"], samples,
        before=lambda: app.extensions.pop("copydesk.status_counts", None))
    with app.test_request_context():
        from flask_login import login_user

        from copydesk.models import Editor
        login_user(db.session.scalar(sa.select(Editor).where(Editor.email == EDITOR_EMAIL)))  # counts its sites
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            status_counts()
            times.append((time.perf_counter() - start) * 1000)
        results["counts per status (the nav on every page)"] = timing_summary(times)
        db.session.remove()
    with app.app_context():
        db.engine.dispose()
    return results


def main():
    samples = env_int("BENCH_SAMPLES", 60)
    site_count, report_count, submission_count = sizes()
    all_results = {}
    for backend, instance in each_backend(lambda backend: (
            f"Dashboard on {backend}: {submission_count:,} submissions, {report_count:,} reports, "
            f"{site_count} sites; server time over {samples} requests each")):
        results = measure(backend, instance, samples)
        print(f"{'page':<48}{'p50 ms':>9}{'p95 ms':>9}   target p95 ≤ {TARGET_P95_MS} ms")
        for name, figures in results.items():
            flag = "ok" if figures["p95_ms"] <= TARGET_P95_MS else "SLOW"
            print(f"{name:<48}{figures['p50_ms']:>9.1f}{figures['p95_ms']:>9.1f}   {flag}")
        all_results[backend] = results
    save_result("dashboard", all_results)
    return all_results


if __name__ == "__main__":
    main()
