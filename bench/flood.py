"""Flood: rate-limited sends from many addresses (X-Forwarded-For through one trusted
proxy) and from one address, while an editor pages through the dashboard list.

Prints the 429s per second the server answers and the dashboard's latency (as the
editor's client sees it) before and during each flood. Runs ``copydesk serve`` with
the default limits on a copy of the seeded SQLite database.

Run: python bench/flood.py   (BENCH_FLOOD_SECONDS per phase, default 10)
"""

import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import copydesk_server, env_int, heading, run_wrk, save_result, timing_summary  # noqa: E402
from seed import EDITOR_EMAIL, EDITOR_PASSWORD, seeded_database  # noqa: E402

DEFAULT_LIMITS = {"COPYDESK_RATELIMIT_REPORTS_PER_IP": "5 per minute;20 per hour;60 per day",
                  "COPYDESK_RATELIMIT_REPORTS_PER_SITE": "120 per minute;2000 per hour"}


def editor_session(url):
    session = requests.Session()
    page = session.get(url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(url + "/login", data={"email": EDITOR_EMAIL, "password": EDITOR_PASSWORD,
                                                 "csrf_token": token}, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.status_code
    return session


def browse(session, url, seconds):
    """Load the list page (one site, new reports) over and over; return latencies in ms."""
    times, deadline, n = [], time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        n += 1
        start = time.perf_counter()
        response = session.get(f"{url}/reports?site={1 + n % 20}&status=new", timeout=30)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def flood_phase(server, session, seconds, forwarded_for):
    result = {}

    def flood():
        result.update(run_wrk(server.url + "/api/v1/reports", "post.lua", seconds, connections=32, threads=1,
                              env={"BENCH_SITE_KEY": "bench-site-01", "BENCH_FORWARDED_FOR": forwarded_for}))
    thread = threading.Thread(target=flood)
    thread.start()
    time.sleep(1)  # let the flood reach full speed first
    dashboard = timing_summary(browse(session, server.url, seconds - 2))
    thread.join()
    result["limited_per_second"] = round(result["limited"] / result["seconds"], 1)
    result["dashboard"] = dashboard
    return result


def main():
    seconds = env_int("BENCH_FLOOD_SECONDS", 10)
    results = {}
    with tempfile.TemporaryDirectory(prefix="copydesk-bench-") as tmp:
        instance = Path(tmp)
        source = seeded_database("sqlite", instance).removeprefix("sqlite:///")
        copy = instance / "flood.sqlite3"
        shutil.copy(source, copy)
        heading(f"Flood: copydesk serve (TRUSTED_PROXIES=1, default limits) on the seeded SQLite copy, "
                f"{seconds}s per phase, 32 connections")
        server = copydesk_server(f"sqlite:///{copy}", instance, "flood", **DEFAULT_LIMITS,
                                 COPYDESK_TRUSTED_PROXIES="1")
        try:
            session = editor_session(server.url)
            results["quiet"] = {"dashboard": timing_summary(browse(session, server.url, 5))}
            for name, forwarded_for in (("many addresses", "random"), ("one address", "198.18.0.1")):
                results[name] = flood_phase(server, session, seconds, forwarded_for)
        finally:
            server.stop()
    quiet = results["quiet"]["dashboard"]
    print(f"no flood:        dashboard list p50 {quiet['p50_ms']:.0f} ms, p95 {quiet['p95_ms']:.0f} ms")
    for name in ("many addresses", "one address"):
        r = results[name]
        print(f"flood, {name + ':':<16}{r['limited_per_second']:7.0f} 429/s ({r['created']} accepted, "
              f"{r['other']} other, {r['errors']} socket errors); dashboard list p50 "
              f"{r['dashboard']['p50_ms']:.0f} ms, p95 {r['dashboard']['p95_ms']:.0f} ms "
              f"({r['dashboard']['n']} loads)")
    save_result("flood", results)
    return results


if __name__ == "__main__":
    main()
