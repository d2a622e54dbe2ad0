"""Clearing reports as fixed from the list, in Chromium: keystrokes and full page loads per report.

Run: python bench/triage_keyboard.py  (needs Chromium at /usr/bin/chromium or $COPYDESK_TEST_CHROMIUM,
and Playwright from the test extras; `make bench` has both)

The desk runs as `copydesk serve` runs it (SQLite), with 2 × BENCH_TRIAGE_REPORTS new reports. An
editor logs in and opens the open list (not counted). With JavaScript on, they clear the newest
BENCH_TRIAGE_REPORTS by keyboard alone: j once (the first row), then f per report; each f closes
the current row's report by fetch, its row leaves the list and the next row is current. With
JavaScript off, the same editor clears the rest with the row's "Fixed" button (a plain form post
and the list again). Counted: keys pressed, clicks, and "load" events of the page (full page
loads); timed: from the key to the row gone from the list.

Target (issue 10): ≤ 2 keystrokes and 0 page loads per report with JavaScript on.
Knobs: BENCH_TRIAGE_REPORTS (20).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (NO_LIMITS, ORIGIN, copydesk, copydesk_env, copydesk_server, env_int, heading,  # noqa: E402
                    save_result, timing_summary)

CHROMIUM = os.environ.get("COPYDESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
EMAIL, PASSWORD = "bench.editor@example.com", "bench editor password"
TARGET_KEYS, TARGET_LOADS = 2, 0


def seed(env, count):
    """A site, an editor and ``count`` new reports, filed through the API as the widget files them."""
    from copydesk import create_app
    from copydesk.db import db
    from copydesk.models import Editor, Site
    app = create_app({"DATABASE_URL": env["COPYDESK_DATABASE_URL"], "SECRET_KEY": env["COPYDESK_SECRET_KEY"],
                      **{name.removeprefix("COPYDESK_"): value for name, value in NO_LIMITS.items()}})
    with app.app_context():
        site = Site(name="Bench")
        site.allowed_origins = [ORIGIN]
        editor = Editor(email=EMAIL, name="Bench Editor", role="admin")
        editor.set_password(PASSWORD)
        db.session.add_all([site, editor])
        db.session.commit()
        client = app.test_client()
        for i in range(count):
            response = client.post("/api/v1/reports", headers={"Origin": ORIGIN}, json={
                "site": site.key, "idempotency_key": f"bench-triage-{i:08d}", "url": f"{ORIGIN}/story-{i}",
                "title": f"Story {i}", "exact": f"mistake number {i}", "prefix": "Before the ",
                "suffix": " after.", "website": ""})
            assert response.status_code == 201, response.text
        db.engine.dispose()


def log_in(page, url):
    page.goto(url + "/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("table[data-triage]")


def with_javascript(browser, url, count):
    from playwright.sync_api import expect
    context = browser.new_context()
    try:
        page = context.new_page()
        log_in(page, url)
        page.goto(url + "/reports?status=open")
        loads, keys, samples = [], 0, []
        page.on("load", lambda _page: loads.append(1))
        page.keyboard.press("j")
        keys += 1
        for _ in range(count):
            before = page.locator("tr.report-row").count()
            start = time.perf_counter()
            page.keyboard.press("f")
            keys += 1
            expect(page.locator("tr.report-row")).to_have_count(before - 1)  # a string to eval breaks the CSP
            samples.append((time.perf_counter() - start) * 1000)
        return {"keystrokes_per_report": keys / count, "page_loads_per_report": len(loads) / count,
                "clicks_per_report": 0.0, **timing_summary(samples)}
    finally:
        context.close()


def without_javascript(browser, url, count):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, url)
        page.goto(url + "/reports?status=open")
        loads, clicks, samples = [], 0, []
        page.on("load", lambda _page: loads.append(1))
        for _ in range(count):
            start = time.perf_counter()
            page.locator("tr.report-row").first.get_by_role("button", name="Fixed", exact=True).click()
            clicks += 1
            page.wait_for_load_state("load")
            samples.append((time.perf_counter() - start) * 1000)
        return {"keystrokes_per_report": 0.0, "page_loads_per_report": len(loads) / count,
                "clicks_per_report": clicks / count, **timing_summary(samples)}
    finally:
        context.close()


def main():
    from playwright.sync_api import sync_playwright
    count = env_int("BENCH_TRIAGE_REPORTS", 20)
    heading(f"Triage: clear {count} reports as fixed from the list, by keyboard (JavaScript on) "
            "and by the row's button (JavaScript off)")
    with tempfile.TemporaryDirectory(prefix="copydesk-bench-") as tmp:
        instance = Path(tmp)
        url = f"sqlite:///{instance / 'triage.sqlite3'}"
        env = copydesk_env(url, instance)
        copydesk("db", "upgrade", env=env)
        seed(env, 2 * count)
        server = copydesk_server(url, instance, "triage-keyboard", COPYDESK_SERVE_WORKER="false")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                results = {"javascript on (keyboard)": with_javascript(browser, server.url, count),
                           "javascript off (row button)": without_javascript(browser, server.url, count)}
                browser.close()
        finally:
            server.stop()
    print(f"{'case':<30}{'keys/report':>12}{'clicks/report':>14}{'loads/report':>13}{'p50 ms':>9}{'p95 ms':>9}")
    for name, r in results.items():
        print(f"{name:<30}{r['keystrokes_per_report']:>12.2f}{r['clicks_per_report']:>14.2f}"
              f"{r['page_loads_per_report']:>13.2f}{r['p50_ms']:>9.0f}{r['p95_ms']:>9.0f}")
    on = results["javascript on (keyboard)"]
    ok = on["keystrokes_per_report"] <= TARGET_KEYS and on["page_loads_per_report"] <= TARGET_LOADS
    print(f"target: ≤ {TARGET_KEYS} keystrokes and {TARGET_LOADS} page loads per report with JavaScript on: "
          f"{'met' if ok else 'MISSED'}")
    save_result("triage_keyboard", {"reports": count, **results})
    return results


if __name__ == "__main__":
    main()
