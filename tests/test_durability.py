"""A crash of the whole server loses no acknowledged report and duplicates none.

Clients send concurrently, each send with its own idempotency key, retrying on
connection errors as the widget does; the server (master and workers) is killed
with SIGKILL mid-run and started again on the same database. Follows ``--db``.
"""

import threading
import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from conftest import ORIGIN, report_body, rows
from copydesk.models import Report, Submission

CLIENTS = 12
SENDS_PER_CLIENT = 12
ANCHORS = 5


class Client(threading.Thread):
    """Sends its reports one after another; each is retried with the same key until a 201."""

    def __init__(self, number, url, site_key, deadline):
        super().__init__(daemon=True)
        self.number, self.url, self.site_key, self.deadline = number, url, site_key, deadline
        self.acknowledged = {}  # idempotency key -> the 201 answer
        self.retries = 0

    def run(self):
        session = requests.Session()
        for send in range(SENDS_PER_CLIENT):
            key = f"crash-{self.number:03d}-{send:03d}"
            anchor = (self.number + send) % ANCHORS
            body = report_body(self.site_key, idempotency_key=key, url=ORIGIN + f"/2026/11/story-{anchor}",
                               canonical_url=None, exact=f"mistake {anchor}", comment=key)
            while time.monotonic() < self.deadline:
                try:
                    response = session.post(self.url + "/api/v1/reports", json=body,
                                            headers={"Origin": ORIGIN}, timeout=10)
                except requests.RequestException:
                    response = None
                if response is not None and response.status_code == 201:
                    self.acknowledged[key] = response.json()
                    break
                assert response is None or response.status_code >= 500, response.text
                self.retries += 1
                session.close()
                session = requests.Session()
                time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_mid_run_loses_no_acknowledged_report_and_duplicates_none(
        app, make_site, database_url, serve):
    site_key = make_site(origins=[ORIGIN])
    server = serve(database_url, workers=2, threads=4)
    clients = [Client(n, server.url, site_key, time.monotonic() + 120) for n in range(CLIENTS)]
    for client in clients:
        client.start()

    total = CLIENTS * SENDS_PER_CLIENT
    while sum(len(c.acknowledged) for c in clients) < total // 3:
        time.sleep(0.01)
    server.kill()
    acknowledged_before_kill = sum(len(c.acknowledged) for c in clients)
    assert acknowledged_before_kill < total, "the kill came after the run; nothing was tested"
    time.sleep(0.5)
    serve(database_url, workers=2, threads=4, port=server.port)
    for client in clients:
        client.join(150)

    answers = {key: answer for c in clients for key, answer in c.acknowledged.items()}
    assert len(answers) == total, "some client never got its 201"
    assert sum(c.retries for c in clients) > 0, "no client saw the crash"
    stored = dict(rows(app, sa.select(Submission.idempotency_key, Submission.report_id)))
    keys = [key for (key,) in rows(app, sa.select(Submission.idempotency_key))]
    assert Counter(keys).most_common(1)[0][1] == 1, "a submission was stored twice"
    assert set(stored) == set(answers)
    assert all(stored[key] == answer["id"] for key, answer in answers.items())
    # Counts survived too: each report counts exactly the submissions it holds.
    reports = rows(app, sa.select(Report.id, Report.submission_count))
    held = Counter(stored.values())
    assert len(reports) == ANCHORS
    assert all(count == held[report_id] for report_id, count in reports), (reports, held)
