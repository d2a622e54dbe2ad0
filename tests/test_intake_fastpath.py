"""The intake's fast paths must behave exactly like the plain ones they stand in for."""

import random
import threading

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from conftest import rows
from copydesk.models import Report, Submission
from copydesk.schemas import ReportSchema, load_report
from test_api import ORIGIN, report_body

VALUES = {
    "site": ["k", "", 12, None, "x" * 65],
    "idempotency_key": ["key-0000000001", "short", "bad key!!", "a" * 64, "a" * 64 + "\n", 5],
    "url": ["https://a.example.com/p", "javascript:alert(1)", "http://:80", "", 3, "https://a.example.com/" + "p" * 2100],
    "canonical_url": [None, "https://a.example.com/c", "ftp://x", 1],
    "title": ["", "A title", "t" * 501, "  spaced \u00a0 title ", None, ["x"]],
    "lang": ["", "en", "pt-BR", "en_US", "<b>", "x" * 40, None],
    "article_id": ["", "id-1", "i" * 201],
    "article_section": ["", "News", 7],
    "article_author": ["", "Ada", "a" * 201],
    "article_published": ["", "2026-11-02", "p" * 65],
    "exact": ["typo", "", "   ", " two\u200b words ", "x" * 301, "x" * 3001, 12, None],
    "prefix": ["", "before ", "p" * 64, "p" * 65, " \u00a0lead"],
    "suffix": ["", " after", "s" * 65, "trail \n"],
    "position": [None, 0, 12, -1, "12", 1.5, True, 10_000_001],
    "comment": ["", "line\r\nbreak\x00", "c" * 1000, "c" * 1001, ["a"]],
    "suggestion": ["", "fix", "s" * 1001, {"a": 1}],
    "website": ["", "http://bot.example", "w" * 201],
}


def outcome(loader, payload):
    try:
        return ("ok", loader(payload))
    except ValidationError as err:
        return ("error", err.messages)


def test_load_report_matches_the_schema_on_random_payloads():
    schema = ReportSchema()
    rng = random.Random(20261125)
    for _ in range(4000):
        payload = report_body("k")
        for field, choices in VALUES.items():
            if rng.random() < 0.25:
                payload[field] = rng.choice(choices)
            if rng.random() < 0.03:
                payload.pop(field, None)
        if rng.random() < 0.05:
            payload["surprise"] = "field"
        assert outcome(load_report, payload) == outcome(schema.load, payload), payload


def test_concurrent_sends_in_one_process_keep_grouping_and_idempotency(app, make_site):
    """Many threads in one process: their sends are committed together in batches."""
    key = make_site(origins=[ORIGIN])
    sends = []
    for n in range(48):
        sends.append(report_body(key, idempotency_key=f"thread-key-{n % 24:04d}",  # every key twice
                                 exact=f"error {n % 6}"))
    random.Random(7).shuffle(sends)
    answers, barrier = [], threading.Barrier(12)

    def worker(chunk):
        client = app.test_client()
        barrier.wait()
        for body in chunk:
            response = client.post("/api/v1/reports", json=body, headers={"Origin": ORIGIN})
            answers.append((body["idempotency_key"], response.status_code, response.json))

    threads = [threading.Thread(target=worker, args=(sends[i::12],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(answers) == 48 and {status for _, status, _ in answers} == {201}
    by_key = {}
    for key_, _, body in answers:
        by_key.setdefault(key_, set()).add(body["id"])
    assert all(len(ids) == 1 for ids in by_key.values())  # a replay answers the same report
    assert len(rows(app, sa.select(Submission))) == 24
    reports = rows(app, sa.select(Report.id, Report.exact, Report.submission_count))
    assert sorted(r.exact for r in reports) == [f"error {n}" for n in range(6)]
    counted = dict(rows(app, sa.select(Submission.report_id, sa.func.count()).group_by(Submission.report_id)))
    assert {r.id: r.submission_count for r in reports} == counted
