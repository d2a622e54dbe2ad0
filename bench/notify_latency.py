"""Notification latency: seconds from a report's 201 to its email in the mail server.

``copydesk serve`` with its own background worker and default settings (only
COPYDESK_SMTP_URL set), a site with an instant email rule, and a real SMTP server
(aiosmtpd) inside this process. Reports are posted one at a time, spaced, each a new error;
each email is matched to its report by the words it quotes.

Run: python bench/notify_latency.py   (BENCH_NOTIFY_REPORTS, default 50; BENCH_NOTIFY_GAP
seconds between reports, default 0.3; BENCH_BACKENDS=sqlite,postgresql)
"""

import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (ORIGIN, backends, copydesk, copydesk_env, copydesk_server, free_port, heading,  # noqa: E402
                    percentile, postgresql_available, postgresql_database, save_result)

TARGET_P95_SECONDS = 10
_WORDS = re.compile(r"latency check (\d+)")


def _text_of(raw):
    """The subject and every text part of a message, decoded."""
    import email
    import email.policy
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [str(message["Subject"] or "")]
    parts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(parts)


class MailSink:
    """aiosmtpd on loopback noting when each message arrived (``match``: and which report
    it is about; off, it only counts, taking as little CPU from the server as it can)."""

    def __init__(self, match=True):
        from aiosmtpd.controller import Controller
        self.arrivals = {}  # report number: monotonic time
        self.received = 0
        self.lock = threading.Lock()
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                arrived = time.monotonic()
                sink.received += 1
                found = match and _WORDS.search(_text_of(envelope.content))
                if found:
                    with sink.lock:
                        sink.arrivals.setdefault(int(found.group(1)), arrived)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *_exc):
        self.controller.stop()


def prepare(backend, instance):
    url = (f"sqlite:///{instance / 'notify.sqlite3'}" if backend == "sqlite"
           else postgresql_database("notify_latency"))
    env = copydesk_env(url, instance)
    copydesk("db", "upgrade", env=env)
    from copydesk import create_app
    from copydesk.db import db
    from copydesk.models import Site
    from copydesk.notify.models import Rule
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": env["COPYDESK_SECRET_KEY"]})
    with app.app_context():
        site = Site(name="Bench", key="bench-site-key")
        site.allowed_origins = [ORIGIN]
        db.session.add(site)
        db.session.flush()
        db.session.add(Rule(site_id=site.id, recipient="email", target="desk@bench.example.com", mode="instant"))
        db.session.commit()
        db.engine.dispose()
    return url


def post(url, number):
    body = {"site": "bench-site-key", "idempotency_key": f"latency-{number:08d}",
            "url": f"{ORIGIN}/story/{number}", "canonical_url": None, "title": f"Story {number}", "lang": "en",
            "exact": f"latency check {number}", "prefix": "Before the ", "suffix": " after it.",
            "position": 10, "comment": "", "suggestion": "", "website": ""}
    request = urllib.request.Request(url + "/api/v1/reports", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Origin": ORIGIN})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, response.status
    return time.monotonic()


def measure(backend, instance, count, gap):
    url = prepare(backend, instance)
    with MailSink() as sink:
        server = copydesk_server(url, instance, f"notify-{backend}", COPYDESK_SMTP_URL=sink.url)
        try:
            answered = {}
            for number in range(count):
                answered[number] = post(server.url, number)
                time.sleep(gap)
            deadline = time.monotonic() + 60
            while len(sink.arrivals) < count and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            server.stop()
        latencies = sorted(sink.arrivals[n] - answered[n] for n in answered if n in sink.arrivals)
    missing = count - len(latencies)
    figures = {"n": count, "arrived": len(latencies), "missing": missing,
               "p50_s": round(percentile(latencies, 50), 3), "p95_s": round(percentile(latencies, 95), 3),
               "max_s": round(max(latencies), 3) if latencies else None}
    print(f"{backend}: {figures['arrived']}/{count} emails arrived; 201 → email p50 {figures['p50_s']:.2f} s, "
          f"p95 {figures['p95_s']:.2f} s, max {figures['max_s']:.2f} s (target p95 ≤ {TARGET_P95_SECONDS} s) "
          f"{'ok' if missing == 0 and figures['p95_s'] <= TARGET_P95_SECONDS else 'MISSED'}")
    return figures


def main():
    count = int(os.environ.get("BENCH_NOTIFY_REPORTS", 50))
    gap = float(os.environ.get("BENCH_NOTIFY_GAP", 0.3))
    results = {}
    with tempfile.TemporaryDirectory(prefix="copydesk-bench-") as tmp:
        for backend in backends():
            if backend == "postgresql" and not postgresql_available():
                print("postgresql: not reachable, skipped")
                continue
            heading(f"Notification latency on {backend}: {count} reports, {gap} s apart, instant email rule, "
                    "copydesk serve with its worker (default settings)")
            instance = Path(tmp) / backend
            instance.mkdir()
            results[backend] = measure(backend, instance, count, gap)
    save_result("notify_latency", results)
    return results


if __name__ == "__main__":
    main()
