"""``make bench``: every benchmark in one run, then a summary against the targets.

Scale knobs (environment): BENCH_DURATION (intake seconds per run, 15),
BENCH_SAMPLES (dashboard requests per page, 60), BENCH_FLOOD_SECONDS (10),
BENCH_SITES / BENCH_REPORTS / BENCH_SUBMISSIONS (20 / 200,000 / 1,000,000),
BENCH_BACKENDS (sqlite,postgresql), BENCH_POSTGRESQL_SERVER
(postgresql+psycopg://postgres@127.0.0.1:5432; databases copydesk_bench_* are made there).
Figures are also written to bench/results/*.json.
"""

import runpy
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common  # noqa: E402


def main():
    if not common.wrk_path():
        sys.exit("wrk is missing: `make bench` installs it (apt-get install wrk).")
    started = time.monotonic()
    import dashboard
    import flood
    import intake
    import notify_latency
    intake_results = intake.main()
    notify_results = notify_latency.main()
    dashboard_results = dashboard.main()
    flood_results = flood.main()
    if (BENCH / "widget_size.py").exists():
        common.heading("Widget size")
        try:
            runpy.run_path(str(BENCH / "widget_size.py"), run_name="__main__")
        except SystemExit as exit_:  # its verdict is printed; the summary still follows
            if exit_.code:
                print(f"widget_size.py exited with {exit_.code}")
    common.heading("Widget: from Ctrl+Enter to the dialog")
    try:
        runpy.run_path(str(BENCH / "widget_open.py"), run_name="__main__")
    except SystemExit as exit_:
        if exit_.code:
            print(f"widget_open.py exited with {exit_.code}")

    # Issues 10 and 11: triage by keyboard, queries, the stats page and the export at 1,000,000.
    for script, title in (("triage_keyboard.py", "Triage by keyboard: keystrokes and page loads per report"),
                          ("triage_queries.py", "List, search and article view at 1,000,000 submissions"),
                          ("stats.py", "The stats page at 1,000,000 submissions"),
                          ("export.py", "Export of 1,000,000 reports: memory and speed")):
        common.heading(title)
        try:
            runpy.run_path(str(BENCH / script), run_name="__main__")
        except SystemExit as exit_:
            if exit_.code:
                print(f"{script} exited with {exit_.code}")

    common.heading(f"Summary ({time.monotonic() - started:.0f} s)")
    for backend in common.backends():
        figures = intake_results.get(backend)
        if figures:
            print(f"intake on {backend}: {figures['per_second']:.0f} 201/s = {figures['ratio']:.2f} × bare "
                  f"(target ≥ {intake.TARGET_RATIO}), p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, "
                  f"every 201 committed: {figures['all_committed']}, peak RSS/worker "
                  f"{max(figures['peak_rss_mb']):.0f} MB (target ≤ {intake.TARGET_RSS_MB})")
        pages = dashboard_results.get(backend)
        if pages:
            worst = max(pages.items(), key=lambda item: item[1]["p95_ms"])
            print(f"dashboard on {backend}: worst p95 {worst[1]['p95_ms']:.1f} ms ({worst[0]}; "
                  f"target ≤ {dashboard.TARGET_P95_MS} ms)")
    for backend, figures in notify_results.items():
        print(f"notification latency on {backend}: 201 → email p50 {figures['p50_s']:.2f} s, p95 "
              f"{figures['p95_s']:.2f} s (target ≤ {notify_latency.TARGET_P95_SECONDS} s), "
              f"{figures['missing']} missing; intake with notifications on: "
              f"{intake_results.get(backend, {}).get('notify_ratio', float('nan')):.2f} × off")
    for name in ("many addresses", "one address"):
        r = flood_results[name]
        print(f"flood from {name}: {r['limited_per_second']:.0f} 429/s, dashboard p95 "
              f"{r['dashboard']['p95_ms']:.0f} ms (quiet: {flood_results['quiet']['dashboard']['p95_ms']:.0f} ms)")


if __name__ == "__main__":
    main()
