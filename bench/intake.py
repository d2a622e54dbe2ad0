"""Intake: accepted POST /api/v1/reports per second under ``copydesk serve`` at 32
connections, against a bare Flask endpoint and against a plain Flask-SQLAlchemy
commit-per-request app (bench/plain_app.py), all under the same gunicorn settings and
measured in the same run; then again with notifications on (rules routing every report,
the background worker running and sending), to show intake does not slow down.

Every 201 must be a committed row: the submission count in the database is checked
against wrk's count of 201s afterwards. Peak RSS per worker and the CPU time the server
(and PostgreSQL) spent per answered request are read from /proc.

Run: python bench/intake.py   (BENCH_DURATION seconds per run, default 15;
BENCH_BACKENDS=sqlite,postgresql)
"""

import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (ORIGIN, backends, bare_server, copydesk, copydesk_env, copydesk_server,  # noqa: E402
                    cpu_used, env_int, heading, plain_server, postgresql_available, postgresql_database,
                    postgresql_pids, process_cpu_seconds, run_wrk, save_result)

TARGET_RATIO = 0.3  # of the bare endpoint
TARGET_PEER = 1.3  # times the plain commit-per-request app
TARGET_RSS_MB = 150
# Notifications on may cost intake at most this share of its figure (noise included).
TARGET_NOTIFY_RATIO = 0.9
EDITORS = 3
NOTIFY_VARIANTS = {"digests": f"{EDITORS} editors on the daily digest, the default",
                   "instant": "the same, and an email at once for every new report and milestone"}


def prepare(backend, instance, name="intake"):
    url = (f"sqlite:///{instance / f'{name}.sqlite3'}" if backend == "sqlite"
           else postgresql_database(name))
    env = copydesk_env(url, instance)
    copydesk("db", "upgrade", env=env)
    add_site(env)
    return url, sa.create_engine(url)


def add_site(env):
    """The benchmark's site, with a known key, made as the app makes one."""
    from copydesk import create_app
    from copydesk.db import db
    from copydesk.models import Site
    app = create_app({"DATABASE_URL": env["COPYDESK_DATABASE_URL"], "SECRET_KEY": env["COPYDESK_SECRET_KEY"]})
    with app.app_context():
        site = Site(name="Bench", key="bench-site-key")
        site.allowed_origins = [ORIGIN]
        db.session.add(site)
        db.session.commit()
        db.engine.dispose()


def add_rules(url, smtp_url, instant):
    """Notifications as a newsroom sets them up: every editor on the daily digest (the
    default); ``instant``: also the desk's address hearing every report at once by email
    (here, hundreds of emails a second: far more than any newsroom gets)."""
    from copydesk import create_app
    from copydesk.db import db
    from copydesk.models import Editor, Site
    from copydesk.notify.models import Rule
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-7c41e9a2d05b8f36e1a4c7d92b5f0e83",
                      "SMTP_URL": smtp_url})
    with app.app_context():
        site = Site.find("bench-site-key")
        for number in range(EDITORS):
            editor = Editor(email=f"editor{number}@bench.example.com", name=f"Editor {number}")
            editor.set_password("bench-password-123")
            db.session.add(editor)
        db.session.add(Rule(site_id=site.id, recipient="everyone"))
        if instant:
            db.session.add(Rule(site_id=site.id, recipient="email", target="desk@bench.example.com",
                                mode="instant"))
        db.session.commit()
        db.engine.dispose()


def measure_notifying(backend, instance, duration, instant):
    """The same run with notifications on: rules, the worker that ``copydesk serve`` starts,
    and a mail server (in this process) taking the emails."""
    from notify_latency import MailSink
    name = "instant" if instant else "digests"
    url, engine = prepare(backend, instance, f"intake_notify_{name}")
    heading(f"Intake with notifications on ({NOTIFY_VARIANTS[name]}): copydesk serve + its worker on "
            f"{backend}, 32 connections, {duration}s")
    with MailSink(match=False) as sink:
        add_rules(url, sink.url, instant)
        server = copydesk_server(url, instance, f"intake-notify-{name}-{backend}", COPYDESK_SMTP_URL=sink.url)
        try:
            figures = measure(server, duration, "bench-site-key")
        finally:
            server.stop()
        figures["emails"] = sink.received
    with engine.connect() as conn:
        figures["deliveries"] = conn.scalar(sa.text("SELECT count(*) FROM delivery"))
        figures["still_due"] = conn.scalar(sa.text("SELECT count(*) FROM report WHERE notify_due = :t"), {"t": True})
    engine.dispose()
    print(f"notifying: {figures['per_second']:8.1f} 201/s  p50 {figures['p50_ms']:.1f} ms  "
          f"p99 {figures['p99_ms']:.1f} ms  server+worker CPU {figures['server_cpu_ms']:.3f} ms/request  "
          f"({figures['created']} answers; {figures['deliveries']} deliveries "
          f"planned, {figures['emails']} emails received while it ran, {figures['still_due']} reports left to plan)")
    return figures


def measure(server, duration, site_key):
    """wrk's figures, plus the CPU time spent per answered request by the server and by
    PostgreSQL: unlike requests per second, these hardly move when other work shares the
    machine, so they show where the time goes."""
    server_before = server.cpu_seconds()
    postgresql_before = process_cpu_seconds(postgresql_pids())
    figures = run_wrk(server.url + "/api/v1/reports", "post.lua", duration,
                      env={"BENCH_SITE_KEY": site_key, "BENCH_ORIGIN": ORIGIN})
    # Read before the server stops: its workers and their database connections still live.
    server_used = cpu_used(server_before, server.cpu_seconds())
    postgresql_used = cpu_used(postgresql_before, process_cpu_seconds(postgresql_pids()))
    answered = max(figures["created"], 1)
    figures["server_cpu_ms"] = round(1000 * server_used / answered, 3)
    figures["postgresql_cpu_ms"] = round(1000 * postgresql_used / answered, 3)
    figures["per_second"] = round(figures["created"] / figures["seconds"], 1)
    return figures


def measure_peer(backend, instance, duration):
    """The plain Flask-SQLAlchemy commit-per-request app on its own fresh database."""
    url, engine = prepare(backend, instance, "intake_plain")
    engine.dispose()
    heading(f"Intake: plain Flask-SQLAlchemy commit-per-request peer on {backend}, 32 connections, {duration}s")
    server = plain_server(url, instance / "plain")
    try:
        figures = measure(server, duration, "bench-site-key")
    finally:
        server.stop()
    print(f"plain:    {figures['per_second']:8.1f} 201/s  p50 {figures['p50_ms']:.1f} ms  "
          f"p99 {figures['p99_ms']:.1f} ms  ({figures['created']} answers, {figures['other']} non-201, "
          f"{figures['errors']} socket errors)  server CPU {figures['server_cpu_ms']:.3f} ms/request")
    return figures


def main():
    duration = env_int("BENCH_DURATION", 15)
    results = {}
    with tempfile.TemporaryDirectory(prefix="copydesk-bench-") as tmp:
        tmp = Path(tmp)
        heading(f"Intake: bare Flask + gunicorn baseline, 32 connections, {duration}s")
        bare = bare_server(tmp / "bare")
        try:
            baseline = measure(bare, duration, "bench-site-key")
            baseline["peak_rss_mb"] = [round(v, 1) for v in bare.peak_rss_mb()]
        finally:
            bare.stop()
        print(f"bare:     {baseline['per_second']:8.1f} 201/s  p50 {baseline['p50_ms']:.1f} ms  "
              f"p99 {baseline['p99_ms']:.1f} ms  ({baseline['created']} answers, {baseline['errors']} errors)  "
              f"server CPU {baseline['server_cpu_ms']:.3f} ms/request")
        results["bare"] = baseline

        for backend in backends():
            if backend == "postgresql" and not postgresql_available():
                print("postgresql: not reachable, skipped")
                continue
            instance = tmp / backend
            instance.mkdir()
            peer = measure_peer(backend, instance, duration)
            url, engine = prepare(backend, instance)
            heading(f"Intake: copydesk serve on {backend}, 32 connections, {duration}s")
            # Notifications off: no rules and no worker, as before issue 9.
            server = copydesk_server(url, instance, f"intake-{backend}", COPYDESK_SERVE_WORKER="false")
            try:
                figures = measure(server, duration, "bench-site-key")
                figures["peak_rss_mb"] = [round(v, 1) for v in server.peak_rss_mb()]
            finally:
                server.stop()
            with engine.connect() as conn:
                figures["rows"] = conn.scalar(sa.text("SELECT count(*) FROM submission"))
            engine.dispose()
            figures["ratio"] = round(figures["per_second"] / baseline["per_second"], 3)
            figures["plain_peer"] = peer
            figures["peer_ratio"] = round(figures["per_second"] / max(peer["per_second"], 0.1), 3)
            # wrk stops counting at the deadline; sends still in flight then may be stored
            # unanswered, so the rows may exceed the 201s by at most one per connection.
            figures["all_committed"] = 0 <= figures["rows"] - figures["created"] <= 32
            results[backend] = figures
            print(f"copydesk: {figures['per_second']:8.1f} 201/s  p50 {figures['p50_ms']:.1f} ms  "
                  f"p99 {figures['p99_ms']:.1f} ms  ({figures['created']} answers, "
                  f"{figures['other']} non-201, {figures['errors']} socket errors)")
            print(f"CPU per answered request: server {figures['server_cpu_ms']:.3f} ms "
                  f"(bare {baseline['server_cpu_ms']:.3f}), PostgreSQL {figures['postgresql_cpu_ms']:.3f} ms")
            print(f"ratio to the plain peer: {figures['peer_ratio']:.2f} (target ≥ {TARGET_PEER}) "
                  f"{'ok' if figures['peer_ratio'] >= TARGET_PEER else 'MISSED'}")
            print(f"ratio to bare: {figures['ratio']:.2f} (target ≥ {TARGET_RATIO}) "
                  f"{'ok' if figures['ratio'] >= TARGET_RATIO else 'MISSED'}   "
                  f"rows in database: {figures['rows']} for {figures['created']} 201s "
                  f"(+{figures['rows'] - figures['created']} in flight at the deadline) → "
                  f"{'every 201 committed' if figures['all_committed'] else 'MISMATCH'}")
            peak = max(figures["peak_rss_mb"])
            print(f"peak RSS per worker: {', '.join(f'{v:.0f}' for v in figures['peak_rss_mb'])} MB "
                  f"(max {peak:.0f}, target ≤ {TARGET_RSS_MB})")
            for name in NOTIFY_VARIANTS:
                notifying = measure_notifying(backend, instance, duration, instant=name == "instant")
                ratio = round(notifying["per_second"] / max(figures["per_second"], 0.1), 3)
                figures[f"notifying_{name}"] = {**notifying, "ratio": ratio}
                print(f"notifications on ({NOTIFY_VARIANTS[name]}) / off: {notifying['per_second']:.1f} / "
                      f"{figures['per_second']:.1f} 201/s = {ratio:.2f} (target ≥ {TARGET_NOTIFY_RATIO}) "
                      f"{'ok' if ratio >= TARGET_NOTIFY_RATIO else 'MISSED'}")
            figures["notify_ratio"] = figures["notifying_digests"]["ratio"]
    save_result("intake", results)
    return results


if __name__ == "__main__":
    main()
