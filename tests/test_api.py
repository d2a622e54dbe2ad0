"""The public report API: validation, grouping, idempotency, CORS, sizes, types."""

import json

import pytest
import sqlalchemy as sa

from conftest import rows
from copydesk.models import Report, Submission

ORIGIN = "https://daily.example.com"


def report_body(site_key, **overrides):
    body = {
        "site": site_key,
        "idempotency_key": "key-0000000001",
        "url": "https://daily.example.com/2026/11/lighthouse?utm=x#top",
        "canonical_url": "https://daily.example.com/2026/11/lighthouse",
        "title": "The Lighthouse Keepers",
        "lang": "en",
        "exact": "principle keeper",
        "prefix": "Each keeper stood a four-hour watch. The ",
        "suffix": " kept the accounts",
        "position": 420,
        "comment": "Should be principal.",
        "suggestion": "principal keeper",
        "website": "",
    }
    body.update(overrides)
    return body


@pytest.fixture
def site_key(make_site):
    return make_site(origins=[ORIGIN])


def post(client, body, origin=ORIGIN, **kwargs):
    headers = {"Origin": origin} if origin else {}
    return client.post("/api/v1/reports", json=body, headers=headers, **kwargs)


def test_valid_report_is_created(client, app, site_key):
    response = post(client, report_body(site_key))
    assert response.status_code == 201
    assert response.content_type == "application/json"
    assert response.json == {"id": 1, "joined": False, "count": 1}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in response.headers
    [report] = rows(app, sa.select(Report))
    report = report[0]
    assert (report.exact, report.prefix, report.suffix) == (
        "principle keeper", "Each keeper stood a four-hour watch. The ", " kept the accounts")
    assert report.page_key == "https://daily.example.com/2026/11/lighthouse"
    assert report.title == "The Lighthouse Keepers" and report.position == 420
    [(submission,)] = rows(app, sa.select(Submission))
    assert submission.comment == "Should be principal."
    assert submission.suggestion == "principal keeper"
    assert submission.ip_hash and "127.0.0.1" not in submission.ip_hash


def test_same_idempotency_key_twice_gives_one_submission(client, app, site_key):
    first = post(client, report_body(site_key))
    second = post(client, report_body(site_key))
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    assert len(rows(app, sa.select(Submission))) == 1
    assert rows(app, sa.select(Report.submission_count)) == [(1,)]


def test_same_anchor_from_two_readers_gives_one_report_with_count_2(client, app, site_key):
    first = post(client, report_body(site_key, idempotency_key="reader-one-1"))
    second = post(client, report_body(site_key, idempotency_key="reader-two-2", comment="typo",
                                      url="https://daily.example.com/2026/11/lighthouse"))
    assert second.status_code == 201
    assert second.json == {"id": first.json["id"], "joined": True, "count": 2}
    assert rows(app, sa.select(Report.id, Report.submission_count)) == [(first.json["id"], 2)]
    assert len(rows(app, sa.select(Submission))) == 2


def test_other_anchor_on_same_page_is_another_report(client, app, site_key):
    post(client, report_body(site_key, idempotency_key="reader-one-1"))
    other = post(client, report_body(site_key, idempotency_key="reader-two-2", exact="four-hour"))
    assert other.json["joined"] is False
    assert len(rows(app, sa.select(Report))) == 2


@pytest.mark.parametrize("field, value, status", [
    ("site", None, 422), ("idempotency_key", "short", 422), ("idempotency_key", "bad key!!", 422),
    ("url", "javascript:alert(1)", 422), ("url", "not a url", 422), ("url", None, 422),
    ("canonical_url", "ftp://x.example.com/", 422), ("exact", "", 422), ("exact", "   \u200b ", 422),
    ("exact", "x" * 301, 422), ("prefix", "p" * 65, 422), ("suffix", "s" * 65, 422),
    ("comment", "c" * 1001, 422), ("suggestion", "s" * 1001, 422), ("position", -1, 422),
    ("position", "12", 422), ("lang", "<script>", 422), ("title", "t" * 501, 422),
    ("exact", 12, 422), ("comment", ["a"], 422), ("unexpected_field", "x", 422),
])
def test_invalid_field_is_named(client, app, site_key, field, value, status):
    body = report_body(site_key)
    if value is None and field != "site":
        body.pop(field)
    else:
        body[field] = value
    if field == "site" and value is None:
        body.pop("site")
    response = post(client, body)
    assert response.status_code == status
    assert field in response.json["errors"], response.json
    assert rows(app, sa.select(Submission)) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b""])
def test_malformed_json_is_400(client, site_key, raw):
    response = client.post("/api/v1/reports", data=raw, content_type="application/json",
                           headers={"Origin": ORIGIN})
    assert response.status_code == 400
    assert "_request" in response.json["errors"]


def test_site_limit_is_the_sites_own(client, make_site):
    key = make_site(name="Short", origins=[ORIGIN], max_selection=20)
    response = post(client, report_body(key, exact="x" * 21))
    assert response.status_code == 422
    assert response.json["errors"]["exact"] == ["Select at most 20 characters."]


def test_unknown_site_is_404(client, site_key):
    response = post(client, report_body("no-such-site"))
    assert response.status_code == 404
    assert response.json["errors"]["site"] == ["Unknown site."]


def test_origin_not_allowed_is_403_without_cors(client, app, site_key, make_site):
    make_site(name="Other", origins=["https://other.example.com"])
    response = post(client, report_body(site_key), origin="https://other.example.com")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    evil = post(client, report_body(site_key), origin="https://evil.example.net")
    assert evil.status_code == 403
    assert "Access-Control-Allow-Origin" not in evil.headers
    assert rows(app, sa.select(Submission)) == []


def test_preflight_answers_only_allowed_origins(client, site_key):
    ok = client.options("/api/v1/reports", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in ok.headers
    bad = client.options("/api/v1/reports", headers={
        "Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"})
    assert bad.status_code == 403
    assert "Access-Control-Allow-Origin" not in bad.headers


def test_body_over_16_kib_is_413(client, app, site_key):
    body = report_body(site_key, comment="x" * (20 * 1024))
    response = post(client, body)
    assert response.status_code == 413
    assert response.content_type == "application/json"
    assert "_request" in response.json["errors"]
    assert rows(app, sa.select(Submission)) == []


def test_form_encoded_body_is_415(client, app, site_key):
    response = client.post("/api/v1/reports", data={"site": site_key, "exact": "x"},
                           headers={"Origin": ORIGIN})
    assert response.status_code == 415
    assert response.content_type == "application/json"
    assert rows(app, sa.select(Submission)) == []


def test_text_plain_body_is_415(client, site_key):
    response = client.post("/api/v1/reports", data=json.dumps(report_body(site_key)),
                           content_type="text/plain", headers={"Origin": ORIGIN})
    assert response.status_code == 415


def test_whitespace_is_normalized_as_the_widget_reads_it(client, app, site_key):
    post(client, report_body(site_key, exact="principle\u00a0 \n keeper\u200b",
                             comment="line one\r\nline two\x00"))
    [(report,)] = rows(app, sa.select(Report))
    assert report.exact == "principle keeper"
    [(submission,)] = rows(app, sa.select(Submission))
    assert submission.comment == "line one\nline two"


def test_repeat_of_report_closed_as_fixed_opens_a_new_linked_report(client, app, site_key):
    from copydesk.db import db
    first = post(client, report_body(site_key, idempotency_key="reader-one-1")).json
    with app.app_context():
        report = db.session.get(Report, first["id"])
        report.status, report.resolution, report.group_key = "closed", "fixed", None
        db.session.commit()
    again = post(client, report_body(site_key, idempotency_key="reader-two-2")).json
    assert again["id"] != first["id"] and again["joined"] is False
    with app.app_context():
        assert db.session.get(Report, again["id"]).previous_report_id == first["id"]


def test_repeat_of_report_closed_as_not_an_error_joins_it(client, app, site_key):
    from copydesk.db import db
    first = post(client, report_body(site_key, idempotency_key="reader-one-1")).json
    with app.app_context():
        report = db.session.get(Report, first["id"])
        report.status, report.resolution = "closed", "not_an_error"
        db.session.commit()
    again = post(client, report_body(site_key, idempotency_key="reader-two-2")).json
    assert again == {"id": first["id"], "joined": True, "count": 2}


def test_widget_config(client, make_site):
    key = make_site(origins=[ORIGIN], language="ru", max_selection=120)
    response = client.get(f"/api/v1/sites/{key}/widget-config", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.json == {"lang": "ru", "max_selection": 120, "max_context": 64, "max_comment": 1000}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert client.get("/api/v1/sites/nope/widget-config").status_code == 404


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json["errors"]


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    post_op = spec["paths"]["/api/v1/reports"]["post"]
    assert set(post_op["responses"]) >= {"201", "400", "403", "404", "413", "415", "422", "429"}
    props = spec["components"]["schemas"]["Report"]["properties"]
    from copydesk.schemas import ReportSchema
    assert set(props) == set(ReportSchema().fields)
    assert set(spec["components"]["schemas"]["Report"]["required"]) == {"site", "idempotency_key", "url", "exact"}
