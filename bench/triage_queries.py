"""Triage at scale: server time of the list, search and article view on a seeded database of
1,000,000 submissions in 200,000 reports across 20 sites (bench/seed.py, so the search index
is filled by migration 0009's triggers while the seed is loaded, as intake fills it).

Server time is measured in-process (Flask's test client, logged in as an editor), so it is
the time to run the queries and render the page, without the network; the bare /healthz in
the same run is the baseline. The seed's words: every report's title is "Story number N",
its selection "mistake N", a third of its readers wrote "Seen in the lead."; N is rare.

Run: python bench/triage_queries.py   (BENCH_SAMPLES per route, default 40;
BENCH_BACKENDS=sqlite,postgresql)
"""

import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import each_backend, env_int, save_result, timing_summary  # noqa: E402
from seed import login, seeded_database, sizes  # noqa: E402

TARGET_P95_MS = 50
SECRET = "bench-secret-7c41e9a2d05b8f36e1a4c7d92b5f0e83"


def timed(client, paths, samples):
    times = []
    for i in range(samples):
        path = paths[i % len(paths)]
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return timing_summary(times)


def search(*queries):
    return [f"/reports?q={quote(q)}" for q in queries]


def routes(app, rng):
    site_count, report_count, _ = sizes()
    sites = [rng.randrange(1, site_count + 1) for _ in range(10)]
    rare = [rng.randrange(1, report_count + 1) for _ in range(10)]
    pages = {
        "baseline: /healthz": ["/healthz"],
        "list: default (open, newest)": ["/reports"],
        "list: one site": [f"/reports?site={s}" for s in sites],
        "list: Mine": ["/reports?assignee=me"],
        "search: common word (every title)": search("story"),
        "search: common word in readers' comments": search("lead"),
        "search: rare word": search(*(str(n) for n in rare)),
        "search: two words, one rare": search(*(f"mistake {n}" for n in rare)),
        "search: common phrase": search('"seen in the lead"'),
        "search: rare phrase": search(*(f'"story number {n}"' for n in rare)),
        "search: prefix": search("mista*", "stor*"),
        "search: rare prefix": search(*(f"{n}*" for n in rare)),
        "search: field filter url:": search(*(f"url:site{s}" for s in sites)),
        "search: one site + common word": [f"/reports?site={s}&q=story" for s in sites],
        "search: no match": search("zebra"),
    }
    if "dashboard.articles" in app.view_functions:
        from copydesk.db import db
        from copydesk.models import Report
        import sqlalchemy as sa
        with app.app_context():
            keys = db.session.execute(sa.select(Report.site_id, Report.page_key).where(
                Report.id.in_(rare))).all()
        pages["article view: pages by open reports"] = ["/articles"]
        pages["article view: one page"] = [f"/article?site={s}&page={quote(k)}" for s, k in keys]
    else:
        print("(no article view in this checkout: skipped)")
    return pages


def measure(backend, instance, samples):
    from copydesk import create_app
    url = seeded_database(backend, instance)
    os.environ["COPYDESK_INSTANCE_PATH"] = str(instance)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    client = app.test_client()
    login(client)
    results = {}
    baseline = None
    for name, paths in routes(app, random.Random(7)).items():
        timed(client, paths, 2)  # warm: templates compiled, pages cached
        results[name] = figures = timed(client, paths, samples)
        baseline = baseline or figures["p95_ms"]
        ratio = figures["p95_ms"] / baseline
        verdict = "" if name.startswith("baseline") else ("ok" if figures["p95_ms"] <= TARGET_P95_MS else "MISSED")
        print(f"  {name:<44} p50 {figures['p50_ms']:>7.1f} ms  p95 {figures['p95_ms']:>7.1f} ms  "
              f"(x{ratio:>5.1f} baseline)  {verdict}", flush=True)
    from copydesk.db import db
    with app.app_context():
        db.engine.dispose()
    return results


def main():
    samples = env_int("BENCH_SAMPLES", 40)
    site_count, report_count, submission_count = sizes()
    everything = {}
    for backend, instance in each_backend(lambda backend: (
            f"{backend}: {submission_count:,} submissions, {report_count:,} reports, {site_count} sites; "
            f"p95 target {TARGET_P95_MS} ms")):
        everything[backend] = measure(backend, instance, samples)
    save_result("triage_queries", everything)
    missed = [(b, n) for b, r in everything.items() for n, f in r.items()
              if not n.startswith("baseline") and f["p95_ms"] > TARGET_P95_MS]
    print("\nall within target" if not missed else f"\nmissed: {missed}")


if __name__ == "__main__":
    main()
