"""The public report API: validation, grouping, idempotency, CORS, sizes, types."""

import io
import json
import logging
import random
import socket
import threading

import pytest
import sqlalchemy as sa
from gunicorn.http.errors import InvalidChunkSize

from conftest import ORIGIN, report_body, rows
from copydesk.models import Report, Submission
from copydesk.schemas import ERROR_CODES

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
    ("canonical_url", 12, 422), ("exact", "", 422), ("exact", "   \u200b ", 422),
    ("exact", "x" * 301, 422), ("prefix", "p" * 65, 422), ("suffix", "s" * 65, 422),
    ("comment", "c" * 1001, 422), ("suggestion", "s" * 1001, 422), ("position", -1, 422),
    ("position", "12", 422), ("lang", ["en"], 422), ("title", "t" * 501, 422),
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
    assert response.json == {"lang": "ru", "max_selection": 120, "max_context": 64, "max_comment": 1000,
                             "followup": False, "kinds": True}
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
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"errors", "codes"}
    assert all(f"`{code}`" in error["properties"]["codes"]["description"] for code in ERROR_CODES)


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


def raw_post(port, chunks, origin=None):
    """POST a hand-framed chunked body over a raw socket; answer (status line, body)."""
    extra = f"Origin: {origin}\r\n".encode() if origin else b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     + extra + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


@pytest.mark.slow
def test_malformed_chunked_body_is_400_on_copydesk_serve(app, serve, database_url, site_key):
    server = serve(database_url, workers=1)
    for chunks in [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"-1\r\n{}\r\n0\r\n\r\n",
                   b'2;ext="\r\n{}\r\n0\r\n\r\n']:
        status, _body = raw_post(server.port, chunks)
        assert status.startswith("HTTP/1.1 400 "), chunks
    assert rows(app, sa.select(Submission)) == []


@pytest.mark.slow
def test_well_framed_chunked_body_is_accepted_on_copydesk_serve(app, serve, database_url, site_key):
    server = serve(database_url, workers=1)
    body = json.dumps(report_body(site_key, idempotency_key="chunked-send-01")).encode()
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    status, answer = raw_post(server.port, chunks + b"0\r\n\r\n", origin=ORIGIN)
    assert status.startswith("HTTP/1.1 201 "), answer
    assert len(rows(app, sa.select(Submission))) == 1


class BrokenChunkedBody(io.RawIOBase):
    """The request body as a WSGI server hands over a malformed chunked one: reading it
    raises the server's own error (gunicorn's threaded worker raises this one)."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise InvalidChunkSize(b"zz")


def test_body_broken_in_transit_is_400_not_500(client, app, site_key):
    response = client.post("/api/v1/reports", content_type="application/json", headers={"Origin": ORIGIN},
                           environ_overrides={"wsgi.input": BrokenChunkedBody(), "wsgi.input_terminated": True})
    assert response.status_code == 400
    assert response.json == {"errors": {"_request": ["The body could not be read."]},
                             "codes": {"_request": ["bad_request"]}}
    assert rows(app, sa.select(Submission)) == []


@pytest.mark.parametrize("field, url, code", [
    ("url", "https://evil.example.net/2026/11/lighthouse", "page_not_on_site"),
    ("url", "http://daily.example.com/2026/11/lighthouse", "page_not_on_site"),  # another scheme
    ("url", "https://daily.example.com:8443/2026/11/lighthouse", "page_not_on_site"),
    ("url", "https://daily.example.com@evil.example/login", "not_http_url"),
    ("url", "https://:pw@daily.example.com/login", "not_http_url"),
    ("url", "https://d\u0430ily.example.com/2026/11/lighthouse", "not_http_url"),  # Cyrillic а
    ("url", "https://xn--dily-7cd.example.com/2026/11/lighthouse", "page_not_on_site"),
    *[("url", f"https://daily.example.com/2026/11/light{char}house", "not_http_url")
      for char in ["\u3164", "\u115f", "\u034f", "\u180e", "\U000e0041", "\U000e007f", "\u061c", "\u200b"]],
])
def test_page_url_off_the_site_or_disguised_is_refused_naming_the_field(client, app, site_key, field, url, code):
    response = post(client, report_body(site_key, **{field: url}))
    assert response.status_code == 422
    assert response.json["codes"] == {field: [code]}, response.json
    assert list(response.json["errors"]) == [field]
    assert rows(app, sa.select(Submission)) == []


def test_page_url_on_an_allowed_origin_with_its_default_port_is_accepted(client, app, site_key):
    response = post(client, report_body(site_key, url="https://DAILY.example.com:443/2026/11/lighthouse"))
    assert response.status_code == 201


def test_canonical_url_off_the_site_is_dropped_and_the_report_kept(client, app, site_key):
    response = post(client, report_body(site_key, canonical_url="https://evil.example.net/login"))
    assert response.status_code == 201
    [(report,)] = rows(app, sa.select(Report))
    assert report.canonical_url is None
    assert report.page_key == "https://daily.example.com/2026/11/lighthouse?utm=x"


@pytest.mark.parametrize("overrides, codes", [
    ({"site": None}, {"site": ["required"]}),
    ({"exact": "   \u200b "}, {"exact": ["selection_blank"]}),
    ({"exact": "x" * 301}, {"exact": ["selection_too_long"]}),
    ({"exact": "x" * 3001}, {"exact": ["selection_too_long"]}),
    ({"comment": "c" * 1001, "position": -1}, {"comment": ["too_long"], "position": ["out_of_range"]}),
    ({"exact": 12}, {"exact": ["invalid"]}),
    ({"url": None}, {"url": ["required"]}),
    ({"unexpected_field": "x"}, {"unexpected_field": ["unknown"]}),
    ({"site": "no-such-site"}, {"site": ["unknown_site"]}),
])
def test_errors_carry_a_machine_readable_code_per_message(client, site_key, overrides, codes):
    body = report_body(site_key, **overrides)
    for field in [field for field, value in overrides.items() if value is None]:
        body.pop(field)
    response = post(client, body)
    assert response.status_code in (404, 422)
    assert response.json["codes"] == codes
    assert all(code in ERROR_CODES for texts in codes.values() for code in texts)
    assert {field: len(texts) for field, texts in response.json["errors"].items()} == \
        {field: len(texts) for field, texts in codes.items()}


@pytest.mark.parametrize("field, value, stored", [
    ("canonical_url", "https://user@daily.example.com/2026/11/lighthouse", None),
    ("canonical_url", "https://daily.example.com@evil.example/login", None),
    ("canonical_url", "ftp://daily.example.com/2026/11/lighthouse", None),
    ("canonical_url", "https://daily.example.com/2026/11/light\u3164house", None),
    ("canonical_url", "https://daily.example.com:port/", None),
    ("canonical_url", "https://daily.example.com/\x00x", None),
    ("canonical_url", "https://daily.example.com/" + "x" * 2048, None),
    ("lang", "<script>", ""), ("lang", "en_US", ""), ("lang", "en-" + "-".join(["abcdefgh"] * 4), ""),
])
def test_page_markup_the_desk_cannot_use_is_dropped_and_the_report_kept(
        client, app, site_key, caplog, field, value, stored):
    caplog.set_level(logging.INFO, logger="copydesk")
    response = post(client, report_body(site_key, **{field: value}))
    assert response.status_code == 201, response.json
    [(report,)] = rows(app, sa.select(Report))
    assert getattr(report, field) == stored
    assert report.exact == "principle keeper"
    assert f"{field} from the page's markup is not usable: dropped" in caplog.messages


def test_page_language_is_kept_when_it_is_a_tag(client, app, site_key):
    assert post(client, report_body(site_key, lang="pt-BR")).status_code == 201
    assert rows(app, sa.select(Report.lang)) == [("pt-br",)]


def test_selection_longer_than_any_site_may_allow_is_refused_by_the_schema(make_site, client, app):
    from marshmallow import ValidationError

    from copydesk.models import MAX_SITE_SELECTION
    from copydesk.schemas import ReportSchema, SiteSchema
    with pytest.raises(ValidationError) as refused:
        ReportSchema().load(report_body("any-site", exact="x" * (MAX_SITE_SELECTION + 1)))
    assert refused.value.messages == {"exact": [f"Select at most {MAX_SITE_SELECTION} characters."]}
    # The widest site the form allows takes exactly that much.
    form = {"name": "Wide", "origins": ORIGIN, "max_selection": str(MAX_SITE_SELECTION)}
    assert SiteSchema().load(form)["max_selection"] == MAX_SITE_SELECTION
    with pytest.raises(ValidationError):
        SiteSchema().load({**form, "max_selection": str(MAX_SITE_SELECTION + 1)})
    key = make_site(name="Wide", origins=[ORIGIN], max_selection=MAX_SITE_SELECTION)
    assert post(client, report_body(key, exact="x" * MAX_SITE_SELECTION)).status_code == 201


def test_site_on_an_ipv6_address_takes_reports(client, app, make_site):
    from copydesk.schemas import SiteSchema
    origins = SiteSchema().load({"name": "Local", "origins": "http://[::1]:8000"})["origins"]
    assert origins == ["http://[::1]:8000"]
    key = make_site(name="Local", origins=origins)
    response = post(client, report_body(key, url="http://[::1]:8000/2026/11/lighthouse",
                                        canonical_url="http://[0:0::1]:8000/2026/11/lighthouse"),
                    origin="http://[::1]:8000")
    assert response.status_code == 201, response.json
    assert response.headers["Access-Control-Allow-Origin"] == "http://[::1]:8000"
    assert rows(app, sa.select(Report.canonical_url)) == [("http://[0:0::1]:8000/2026/11/lighthouse",)]


def test_preflight_origin_spanning_two_allowlist_entries_is_refused(client, make_site):
    make_site(name="Two", origins=["https://a.example.com", "https://b.example.com"])
    for crafted in ['https://a.example.com", "https://b.example.com', 'https://a.example.com","https://b.example.com']:
        answer = client.options("/api/v1/reports", headers={"Origin": crafted, "Access-Control-Request-Method": "POST"})
        assert answer.status_code == 403
        assert "Access-Control-Allow-Origin" not in answer.headers
    ok = client.options("/api/v1/reports", headers={"Origin": "https://b.example.com",
                                                    "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204


def test_send_for_a_site_removed_while_it_is_filed_is_404(client, app, site_key, monkeypatch):
    from copydesk import intake
    from copydesk.db import db
    from copydesk.models import Site
    checked = intake._filing

    def remove_site_after_the_check(send, site):
        filing = checked(send, site)
        with app.app_context():
            db.session.get(Site, site.id).remove()
            db.session.commit()
        return filing
    monkeypatch.setattr(intake, "_filing", remove_site_after_the_check)
    response = post(client, report_body(site_key))
    assert response.status_code == 404
    assert response.json["codes"] == {"site": ["unknown_site"]}
    assert rows(app, sa.select(Report)) == rows(app, sa.select(Site)) == []


def test_report_with_a_page_off_the_sites_origins_shows_no_link(client, app, site_key, make_editor, auth):
    from copydesk.db import db
    from copydesk.models import Site
    assert post(client, report_body(site_key)).status_code == 201
    make_editor()
    auth.login()
    page = client.get("/reports/1")
    assert '<a href="https://daily.example.com/2026/11/lighthouse?utm=x#top"' in page.text
    with app.app_context():  # the admin takes the origin off the site
        site = db.session.scalar(sa.select(Site).where(Site.key == site_key))
        site.allowed_origins = ["https://weekly.example.com"]
        db.session.commit()
    page = client.get("/reports/1")
    assert page.status_code == 200
    assert "https://daily.example.com/2026/11/lighthouse?utm=x#top" in page.text
    assert '<a href="https://daily.example.com' not in page.text
