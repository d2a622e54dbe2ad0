"""The report list's filter as CSV and JSON Lines: every field read back (hostile text
included), formula cells neutralised in CSV only, filters and the editor's sites honoured,
bad filters refused, and the file streamed with memory flat as the row count doubles."""

import csv
import io
import json
import tracemalloc
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from flask import render_template_string

from copydesk.checks import PageCheck
from copydesk.dashboard import export
from copydesk.db import db
from copydesk.models import Editor, Report, Site, Submission

FIELDS = ["id", "site", "status", "resolution", "page_url", "canonical_url", "title", "lang",
          "article_id", "article_section", "article_author", "article_published",
          "exact", "prefix", "suffix", "typo_count", "fact_count", "link_count", "other_count",
          "submission_count", "suggestions", "comment_count", "assignee", "duplicate_of", "previous_report",
          "created_at", "last_submitted_at", "check_state", "checked_at"]
# Text a spreadsheet would run, or a CSV writer could get wrong, each with what the CSV cell must read.
HOSTILE = {
    "title": ('=HYPERLINK("https://evil.example","Click")', '\'=HYPERLINK("https://evil.example","Click")'),
    "exact": ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    "prefix": ("-2+3, with a comma", "'-2+3, with a comma"),
    "suffix": ("@SUM(A1:A9)\nand a new line", "'@SUM(A1:A9)\nand a new line"),
    "article_author": ("\tTabbed \"quoted\" author", "'\tTabbed \"quoted\" author"),
    "article_section": ("\rCarriage", "'\rCarriage"),
    "article_id": ("a=1; not at the start", "a=1; not at the start"),
    "article_published": ("2026-11-26", "2026-11-26"),
    "canonical_url": ("https://daily.example.com/שלום\u200f/\u202eevil", "https://daily.example.com/שלום\u200f/\u202eevil"),
    "lang": ("he", "he"),
}
EMOJI_URL = "https://daily.example.com/🙂👩‍💻/ёжик"
CREATED = datetime(2026, 11, 20, 9, 30, 15)
READER_SECRETS = ("reader@example.org", "f" * 64, "Mozilla/5.0 SecretAgent")


@pytest.fixture
def desk(app, make_site, make_editor, auth):
    """Two sites; an admin logged in; on Daily a hostile report (assigned, a duplicate, checked,
    with readers' suggestions) and a plain closed one; on Weekly one open report."""
    daily, weekly = make_site("Daily"), make_site("Weekly", origins=["https://weekly.example.com"])
    make_editor("admin@example.com", role="admin")
    make_editor("ann@example.com", name="Ann")
    make_editor("weekly.only@example.com", sites=[weekly])
    with app.app_context():
        sites = {site.key: site.id for site in db.session.scalars(sa.select(Site))}
        ann = db.session.scalar(sa.select(Editor.id).where(Editor.email == "ann@example.com"))
        plain = _report(sites[daily], "plain", status="closed", resolution="fixed")
        db.session.add(plain)
        db.session.flush()
        hostile = _report(sites[daily], "hostile", page_url=EMOJI_URL, status="closed", resolution="duplicate",
                          assignee_id=ann, duplicate_of_id=plain.id, submission_count=4, typo_count=3,
                          fact_count=1, created_at=CREATED, last_submitted_at=CREATED.replace(hour=10),
                          **{name: value for name, (value, _cell) in HOSTILE.items()})
        other = _report(sites[weekly], "weekly")
        db.session.add_all([hostile, other])
        db.session.flush()
        for n, (suggestion, comment) in enumerate([("the", "Typo"), ("the", ""), ("=then", ""), ("", "")]):
            db.session.add(Submission(report_id=hostile.id, site_id=sites[daily], idempotency_key=f"s-{n:08d}",
                                      suggestion=suggestion, comment=comment, ip_hash=READER_SECRETS[1],
                                      user_agent=READER_SECRETS[2], reader_email=READER_SECRETS[0]))
        db.session.add(PageCheck(report_id=hostile.id, state="changed", checked_at=CREATED.replace(day=21)))
        db.session.commit()
        ids = {"plain": plain.id, "hostile": hostile.id, "weekly": other.id}
    assert auth.login("admin@example.com").status_code == 302
    return {"daily_site": sites[daily], "weekly_site": sites[weekly], **ids}


def _report(site_id, word, **fields):
    url = fields.pop("page_url", f"https://daily.example.com/{word}")
    fields.setdefault("exact", word)
    return Report(site_id=site_id, anchor_key=word.ljust(64, "0"), page_url=url, page_key=url, **fields)


def read_csv(response):
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "a BOM, so spreadsheets read UTF-8"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == FIELDS
    return [dict(zip(FIELDS, row, strict=True)) for row in rows[1:]]


def read_jsonl(response):
    assert response.headers["Content-Type"] == "application/jsonl; charset=utf-8"
    lines = response.get_data(as_text=True).split("\n")
    assert lines[-1] == "", "every line ends with a newline"
    records = [json.loads(line) for line in lines[:-1]]
    assert all(list(record) == FIELDS for record in records)
    return records


def test_csv_reads_back_every_field_with_formula_cells_neutralised(client, desk):
    response = client.get("/reports/export.csv?status=all&site=%d" % desk["daily_site"])
    assert response.status_code == 200
    rows = read_csv(response)
    assert [row["id"] for row in rows] == [str(desk["plain"]), str(desk["hostile"])]
    expected = {name: cell for name, (_value, cell) in HOSTILE.items()}
    assert rows[1] == {
        "id": str(desk["hostile"]), "site": "Daily", "status": "closed", "resolution": "duplicate",
        "page_url": EMOJI_URL, **expected,
        "typo_count": "3", "fact_count": "1", "link_count": "0", "other_count": "0", "submission_count": "4",
        "suggestions": '{"the": 2, "=then": 1}', "comment_count": "1", "assignee": "ann@example.com",
        "duplicate_of": str(desk["plain"]), "previous_report": "",
        "created_at": "2026-11-20T09:30:15Z", "last_submitted_at": "2026-11-20T10:30:15Z",
        "check_state": "changed", "checked_at": "2026-11-21T09:30:15Z"}
    assert rows[0]["check_state"] == rows[0]["assignee"] == rows[0]["suggestions"] == ""


def test_jsonl_has_the_same_fields_as_stored_without_neutralising(client, desk):
    response = client.get("/reports/export.jsonl?status=all")
    assert response.status_code == 200
    records = {record["id"]: record for record in read_jsonl(response)}
    assert set(records) == {desk["plain"], desk["hostile"], desk["weekly"]}
    assert records[desk["hostile"]] == {
        "id": desk["hostile"], "site": "Daily", "status": "closed", "resolution": "duplicate",
        "page_url": EMOJI_URL, **{name: value for name, (value, _cell) in HOSTILE.items()},
        "typo_count": 3, "fact_count": 1, "link_count": 0, "other_count": 0, "submission_count": 4,
        "suggestions": {"the": 2, "=then": 1}, "comment_count": 1, "assignee": "ann@example.com",
        "duplicate_of": desk["plain"], "previous_report": None,
        "created_at": "2026-11-20T09:30:15Z", "last_submitted_at": "2026-11-20T10:30:15Z",
        "check_state": "changed", "checked_at": "2026-11-21T09:30:15Z"}
    assert records[desk["weekly"]]["check_state"] is None
    # Unicode as itself, not \\u escapes.
    assert "👩‍💻".encode() in response.get_data()


@pytest.mark.parametrize("path", ["/reports/export.csv?status=all", "/reports/export.jsonl?status=all"])
def test_export_never_contains_reader_addresses_ip_hashes_or_user_agents(client, desk, path):
    body = client.get(path).get_data(as_text=True)
    assert str(desk["hostile"]) in body
    for secret in READER_SECRETS:
        assert secret not in body


@pytest.mark.parametrize("query, names", [
    ("", ["weekly"]),  # the list's default: open reports
    ("status=closed", ["plain", "hostile"]),
    ("status=closed&resolution=fixed", ["plain"]),
    ("status=all&kind=fact", ["hostile"]),
    ("status=all&check=changed", ["hostile"]),
    ("status=all&q=hyperLINK", ["hostile"]),
    ("status=all&until=2026-11-20", ["hostile"]),
])
def test_export_honours_the_lists_filters(client, desk, query, names):
    for fmt in ("csv", "jsonl"):
        response = client.get(f"/reports/export.{fmt}?{query}")
        found = [int(row["id"]) for row in read_csv(response)] if fmt == "csv" else \
            [record["id"] for record in read_jsonl(response)]
        assert found == sorted(desk[name] for name in names)


def test_an_editor_exports_only_the_sites_they_belong_to(client, auth, desk):
    client.post("/logout", data={"csrf_token": auth.token("/account")})
    assert auth.login("weekly.only@example.com").status_code == 302
    rows = read_csv(client.get("/reports/export.csv?status=all"))
    assert [int(row["id"]) for row in rows] == [desk["weekly"]]
    records = read_jsonl(client.get("/reports/export.jsonl?status=all&site=%d" % desk["daily_site"]))
    assert records == []


@pytest.mark.parametrize("query, reason", [
    ("status=deleted", "status"), ("site=abc", "site"), ("since=yesterday", "since"), ("kind=rumour", "kind")])
def test_bad_filters_are_refused_with_the_reason(client, desk, query, reason):
    for fmt in ("csv", "jsonl"):
        response = client.get(f"/reports/export.{fmt}?{query}")
        assert response.status_code == 400
        assert "These filters are not valid" in response.text and reason in response.text


def test_export_is_an_attachment_named_by_day_and_filter_never_cached(client, desk):
    response = client.get("/reports/export.csv?status=closed&q=caf%C3%A9%20%22x%22&after=9")
    today = datetime.now(timezone.utc).date().isoformat()
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="copydesk-reports-{today}-q-caf-x-status-closed.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    assert read_csv(response) == []
    response = client.get("/reports/export.jsonl")
    assert [record["id"] for record in read_jsonl(response)] == [desk["weekly"]]
    assert response.headers["Content-Disposition"] == f'attachment; filename="copydesk-reports-{today}.jsonl"'


def test_export_asks_anonymous_visitors_to_log_in(client, desk, auth):
    client.post("/logout", data={"csrf_token": auth.token("/account")})
    response = client.get("/reports/export.csv?status=all")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "HYPERLINK" not in response.text


def test_export_links_carry_the_current_filter(app, desk):
    with app.test_request_context():
        html = render_template_string('{% from "dashboard/_export_links.html" import export_links %}'
                                      '{{ export_links({"status": "closed", "site": 3}) }}')
    assert 'href="/reports/export.csv?status=closed&amp;site=3"' in html
    assert 'href="/reports/export.jsonl?status=closed&amp;site=3"' in html
    assert ">CSV</a>" in html and ">JSON Lines</a>" in html


def _seed(app, site_id, count, start):
    rows = [{"site_id": site_id, "anchor_key": f"{n:064d}", "page_url": f"https://daily.example.com/story/{n}",
             "page_key": f"https://daily.example.com/story/{n}", "title": f"Story {n} about the harbour",
             "exact": f"mistake number {n}", "prefix": "Before the words ", "suffix": " and after them."}
            for n in range(start, start + count)]
    with app.app_context():
        db.session.execute(sa.insert(Report), rows)
        db.session.commit()


def test_a_search_exports_every_match_once_across_batches(app, client, desk, monkeypatch):
    """Batches follow the search's own id column (the full-text index's on SQLite): each
    match of a search larger than a batch comes once, in report number order."""
    monkeypatch.setattr(export, "BATCH", 3)
    _seed(app, desk["daily_site"], 10, 0)
    with app.app_context():
        harbour = db.session.scalars(sa.select(Report.id).where(Report.title.contains("harbour"))
                                     .order_by(Report.id)).all()
    assert len(harbour) == 10
    for fmt in ("csv", "jsonl"):
        response = client.get(f"/reports/export.{fmt}?status=all&q=harbour")
        found = [int(row["id"]) for row in read_csv(response)] if fmt == "csv" else \
            [record["id"] for record in read_jsonl(response)]
        assert found == harbour


def _peak_while_streaming(client, url):
    """Peak traced memory while the export streams, and the bytes it sent."""
    response = client.get(url, buffered=False)
    assert response.is_streamed
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    sent = sum(len(chunk) for chunk in response.response)
    response.close()
    return tracemalloc.get_traced_memory()[1] - base, sent


@pytest.mark.slow
def test_memory_stays_flat_when_the_export_doubles(app, client, desk, monkeypatch):
    """15,000 rows, then 30,000: the peak does not grow with the rows, and stays far below the file."""
    monkeypatch.setattr(export, "BATCH", 500)  # a smaller batch: the file dwarfs what one batch holds
    _seed(app, desk["weekly_site"], 15_000, 0)
    _seed(app, desk["daily_site"], 15_000, 15_000)
    weekly = "/reports/export.csv?status=open&site=%d" % desk["weekly_site"]
    tracemalloc.start()
    try:
        _peak_while_streaming(client, weekly + "&kind=fact")  # warms caches: compiled statements, templates
        half, half_bytes = _peak_while_streaming(client, weekly)
        whole, whole_bytes = _peak_while_streaming(client, "/reports/export.csv?status=open")
    finally:
        tracemalloc.stop()
    assert whole_bytes > 1.9 * half_bytes > 2_000_000
    assert whole < 1.25 * half, f"peak {whole:,} B for 30,000 rows against {half:,} B for 15,000"
    assert whole < whole_bytes / 2, "the file is not held in memory"
