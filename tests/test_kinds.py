"""What kind of error a reader says it is (issue 13, item 1), server side: ``kind`` in the API,
stored per send and counted per report; the site setting that asks for it; a site language
that may follow the page; the dashboard's filter, counts and site form; routing by kind; the
kind in every notification channel. And every refusal the widget words carries a code."""

import re

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from conftest import ORIGIN, csrf_token, report_body, rows
from copydesk.db import db
from copydesk.models import KINDS, Report, Site, Submission
from copydesk.notify.models import Rule, new_webhook_secret
from copydesk.schemas import ERROR_CODES
from test_api import post
from test_dashboard import logged_in  # noqa: F401 - a fixture
from test_postgresql import fire_at_once

COUNTS = [Report.typo_count, Report.fact_count, Report.link_count, Report.other_count]


def send(client, site_key, number, kind=None, **overrides):
    """One reader's send of the same error (the default body's selection); answers the JSON."""
    body = report_body(site_key, idempotency_key=f"reader-{number:08d}", **overrides)
    if kind is not None:
        body["kind"] = kind
    response = post(client, body)
    assert response.status_code == 201, response.json
    return response.json


def counts(app):
    return rows(app, sa.select(Report.id, *COUNTS).order_by(Report.id))


def site_id(app, key):
    with app.app_context():
        return Site.find(key).id


# --- The API ---

@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_stored_with_the_send_and_counted_on_the_report(client, app, site_key, kind):
    send(client, site_key, 1, kind)
    assert rows(app, sa.select(Submission.kind)) == [(kind,)]
    [(_id, *numbers)] = counts(app)
    assert numbers == [int(each == kind) for each in KINDS]


@pytest.mark.parametrize("body", [{}, {"kind": None}], ids=["left-out", "null"])
def test_a_send_without_a_kind_counts_none(client, app, site_key, body):
    response = post(client, report_body(site_key, **body))
    assert response.status_code == 201
    assert rows(app, sa.select(Submission.kind)) == [(None,)]
    assert counts(app) == [(1, 0, 0, 0, 0)]


@pytest.mark.parametrize("kind, code", [
    ("grammar", "not_a_kind"), ("", "not_a_kind"), ("Typo", "not_a_kind"), ("typo ", "not_a_kind"),
    ("fact\u0000", "not_a_kind"), (1, "invalid"), (["typo"], "invalid"), ({"kind": "typo"}, "invalid"),
])
def test_anything_but_a_kind_is_refused_with_a_code(client, app, site_key, kind, code):
    response = post(client, report_body(site_key, kind=kind))
    assert response.status_code == 422
    assert response.json["codes"] == {"kind": [code]}
    assert list(response.json["errors"]) == ["kind"]
    assert code in ERROR_CODES
    assert rows(app, sa.select(Submission)) == []


def test_a_site_that_does_not_ask_drops_the_kind_silently(client, app, make_site):
    key = make_site(origins=[ORIGIN], kinds_enabled=False)
    assert send(client, key, 1, "fact") == {"id": 1, "joined": False, "count": 1}
    send(client, key, 2, "typo")
    assert rows(app, sa.select(Submission.kind)) == [(None,), (None,)]
    assert counts(app) == [(1, 0, 0, 0, 0)]
    # A bad kind is still a bad request, as any malformed field is.
    assert post(client, report_body(key, idempotency_key="reader-00000003", kind="opinion")).status_code == 422


def test_a_replay_counts_its_kind_once(client, app, site_key):
    first = send(client, site_key, 1, "fact")
    # The widget retries until acknowledged: the same key answers the same, whatever it carries now.
    assert send(client, site_key, 1, "fact") == first
    assert send(client, site_key, 1, "typo") == first
    assert rows(app, sa.select(Submission.kind)) == [("fact",)]
    assert counts(app) == [(1, 0, 1, 0, 0)]


def test_each_reader_counts_for_the_kind_they_chose(client, app, site_key):
    for number, kind in enumerate(["typo", "typo", None, "fact", "typo", "link"]):
        send(client, site_key, number, kind)
    assert counts(app) == [(1, 3, 1, 1, 0)]
    with app.app_context():
        report = db.session.get(Report, 1)
        assert report.submission_count == 6
        assert report.kind_counts == {"typo": 3, "fact": 1, "link": 1}
        assert report.kinds_shown == "typo ×3, wrong fact ×1, broken link or image ×1"


@pytest.mark.slow
def test_concurrent_readers_of_one_error_lose_no_kind(app, make_site, database_url, serve):
    """Readers in several server processes join one report at once: every kind is counted
    (in SQL, in the statement that joins the report), on either database."""
    key = make_site(origins=[ORIGIN])
    server = serve(database_url, workers=2, threads=8)
    kinds = [KINDS[number % 4] if number % 5 else None for number in range(16)]
    bodies = [{**report_body(key, idempotency_key=f"race-key-{number:06d}"), "kind": kind}
              for number, kind in enumerate(kinds)]
    answers = fire_at_once(server.url, bodies)
    assert all(status == 201 for status, _ in answers), answers
    [(_id, *numbers)] = counts(app)
    assert numbers == [kinds.count(kind) for kind in KINDS]
    assert sum(numbers) == 12 and rows(app, sa.select(Report.submission_count)) == [(16,)]
    assert sorted(kind or "" for (kind,) in rows(app, sa.select(Submission.kind))) == sorted(k or "" for k in kinds)


# --- Codes for every refusal the widget words ---

@pytest.mark.parametrize("field, bad_values", [
    ("site", ["", "s" * 65, 7]), ("idempotency_key", ["short", "bad key!", None]),
    ("url", ["ftp://daily.example.com/", "x" * 3000, ""]), ("title", ["t" * 501, 3]),
    ("exact", ["", "x" * 2001, None]), ("prefix", ["p" * 65]), ("suffix", ["s" * 65]),
    ("position", [-1, 1.5, "3", 10_000_001]), ("comment", ["c" * 1001, []]), ("suggestion", ["s" * 1001]),
    ("website", ["w" * 201]), ("email", ["not-an-address", "a" * 250 + "@b.cd"]), ("kind", ["typo!", 0]),
    ("article_author", ["a" * 201]),
])
def test_every_validation_refusal_carries_a_code_the_widget_knows(client, site_key, field, bad_values):
    for value in bad_values:
        response = post(client, report_body(site_key, **{field: value}))
        assert response.status_code == 422, (field, value)
        codes = response.json["codes"]
        assert list(codes) == [field] and len(codes[field]) == len(response.json["errors"][field])
        assert all(code in ERROR_CODES and code != "error" for code in codes[field]), (field, value, codes)


def test_the_error_schema_lists_the_kind_code(client):
    description = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Error"]
    assert "`not_a_kind`" in description["properties"]["codes"]["description"]


# --- widget-config and the OpenAPI document ---

def test_widget_config_says_whether_to_ask_and_which_language(client, make_site):
    asks = make_site(origins=[ORIGIN], language="de")
    quiet = make_site(name="Quiet", origins=["https://quiet.example.com"], kinds_enabled=False)
    config = client.get(f"/api/v1/sites/{asks}/widget-config", headers={"Origin": ORIGIN}).json
    assert (config["kinds"], config["lang"]) == (True, "de")
    config = client.get(f"/api/v1/sites/{quiet}/widget-config").json
    # No language chosen: the dialog follows each page's own.
    assert (config["kinds"], config["lang"]) == (False, None)


def test_openapi_describes_kind_and_the_new_settings(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    kind = schemas["Report"]["properties"]["kind"]
    assert kind["enum"][:4] == list(KINDS) and set(kind["enum"]) <= {*KINDS, None}
    assert kind["nullable"] is True and "kind" not in schemas["Report"]["required"]
    config = schemas["WidgetConfig"]
    assert config["properties"]["kinds"]["type"] == "boolean" and "kinds" in config["required"]
    assert config["properties"]["lang"]["nullable"] is True and "lang" in config["required"]


# --- The dashboard ---

def test_report_page_shows_the_counts_per_kind_and_each_readers_choice(client, app, site_key, logged_in):  # noqa: F811
    for number, kind in enumerate(["typo", "fact", "typo", "typo", None]):
        send(client, site_key, number, kind)
    page = client.get("/reports/1").text
    assert re.search(r"<dt>Kind</dt><dd class=\"kinds\">typo ×3, wrong fact ×1</dd>", page)
    assert page.count('<span class="kind">typo</span>') == 3
    assert page.count('<span class="kind">wrong fact</span>') == 1


def test_a_report_no_reader_classified_shows_no_kind(client, app, site_key, logged_in):  # noqa: F811
    send(client, site_key, 1)
    page = client.get("/reports/1").text
    assert "<dt>Kind</dt>" not in page and 'class="kind"' not in page


def test_the_list_filters_by_kind(client, app, site_key, logged_in):  # noqa: F811
    typo_only = send(client, site_key, 1, "typo", exact="first error")["id"]
    mixed = send(client, site_key, 2, "typo", exact="second error")["id"]
    send(client, site_key, 3, "fact", exact="second error")
    unsaid = send(client, site_key, 4, exact="third error")["id"]

    def shown(query):
        page = client.get(f"/reports?status=all{query}")
        assert page.status_code == 200
        return {int(i) for i in re.findall(r'aria-label="Report #(\d+)"', page.text)}

    assert shown("&kind=fact") == {mixed}
    assert shown("&kind=typo") == {typo_only, mixed}
    assert shown("&kind=link") == set()
    assert shown("") == {typo_only, mixed, unsaid}
    page = client.get("/reports?kind=fact")
    assert '<option value="fact" selected>wrong fact</option>' in page.text
    # The pager keeps the filter.
    app.config["PAGE_SIZE"] = 1
    page = client.get("/reports?status=all&kind=typo").text
    assert re.search(r'href="/reports\?[^"]*kind=typo', page)
    refused = client.get("/reports?kind=opinion")
    assert refused.status_code == 400 and "kind" in refused.text


def test_a_new_site_asks_for_kinds_and_follows_the_pages_language(client, app, auth, make_editor):
    make_editor(role="admin")
    auth.login()
    form_page = client.get("/sites").text
    assert re.search(r'<input id="kinds_enabled" name="kinds_enabled" type="checkbox" value="1" checked>', form_page)
    assert "<option value=\"\" selected>The page's language</option>" in form_page
    assert '<option value="he" lang="he">עברית (he)</option>' in form_page
    # The form as a browser sends it untouched: the checkbox ticked, the language left as it is.
    response = client.post("/sites", data={"csrf_token": csrf_token(form_page), "name": "Herald",
                                           "origins": "https://herald.example.com", "language": "",
                                           "max_selection": "300", "kinds_enabled": "1"})
    assert response.status_code == 302
    assert rows(app, sa.select(Site.kinds_enabled, Site.language)) == [(True, None)]


def test_an_admin_turns_kinds_off_and_chooses_a_language(client, app, auth, make_editor, make_site):
    make_editor(role="admin")
    auth.login()
    key = make_site(origins=[ORIGIN], language="en-GB")
    number = site_id(app, key)
    page = client.get(f"/sites/{number}").text
    assert re.search(r'<input id="kinds_enabled"[^>]* checked', page)
    # A code chosen before that the list lacks stays chosen.
    assert '<option value="en-GB" selected>en-GB</option>' in page
    form = {"csrf_token": csrf_token(page), "name": "Daily", "origins": ORIGIN, "max_selection": "300"}
    # An unticked checkbox is not sent at all: off.
    assert client.post(f"/sites/{number}", data={**form, "language": "kk"}).status_code == 302
    assert rows(app, sa.select(Site.kinds_enabled, Site.language)) == [(False, "kk")]
    page = client.get(f"/sites/{number}").text
    assert not re.search(r'<input id="kinds_enabled"[^>]* checked', page)
    assert '<option value="kk" lang="kk" selected>Қазақша (kk)</option>' in page
    assert client.post(f"/sites/{number}", data={**form, "language": "", "kinds_enabled": "1"}).status_code == 302
    assert rows(app, sa.select(Site.kinds_enabled, Site.language)) == [(True, None)]
    assert client.get(f"/api/v1/sites/{key}/widget-config").json["lang"] is None
    bad = client.post(f"/sites/{number}", data={**form, "language": "not a language"})
    assert bad.status_code == 400 and "Use a language code" in bad.text


def test_sites_add_asks_for_kinds_unless_told_not_to(app, runner):
    assert runner.invoke(args=["sites", "add", "Herald", "--origin", "https://herald.example.com"]).exit_code == 0
    result = runner.invoke(args=["sites", "add", "Gazette", "--origin", "https://gazette.example.com",
                                 "--no-kinds", "--language", "uk"])
    assert result.exit_code == 0, result.output
    assert rows(app, sa.select(Site.name, Site.kinds_enabled, Site.language).order_by(Site.id)) == [
        ("Herald", True, None), ("Gazette", False, "uk")]
    refused = runner.invoke(args=["sites", "add", "Post", "--origin", "https://post.example.com",
                                  "--language", "Ukrainian!"])
    assert refused.exit_code == 2 and "Use a language code" in refused.output


# --- Routing and notifications ---

def test_a_kind_rule_hears_reports_where_a_reader_chose_that_kind(client, app, site_key, runner):
    from copydesk.notify.rules import recipients_for
    result = runner.invoke(args=["notify", "add", site_key, "email", "factcheck@example.com", "--kind", "fact"])
    assert result.exit_code == 0, result.output
    typo_only = send(client, site_key, 1, "typo", exact="first error")["id"]
    mixed = send(client, site_key, 2, "typo", exact="second error")["id"]
    send(client, site_key, 3, "fact", exact="second error")
    unsaid = send(client, site_key, 4, exact="third error")["id"]
    with app.app_context():
        heard = {report_id: [r.address for r in recipients_for(db.session.get(Report, report_id))]
                 for report_id in (typo_only, mixed, unsaid)}
    assert heard == {typo_only: [], mixed: ["factcheck@example.com"], unsaid: []}


def test_every_channel_says_the_kind(client, app, site_key, smtp_server, http_receiver):
    """A fact-checker's email rule, a signed webhook, Slack and Telegram: each message about the
    report names the kinds its readers chose; the fact rule hears only that report."""
    from copydesk.worker import Worker
    app.config.update(SMTP_URL=smtp_server.url, MAIL_FROM="Copydesk <desk@news.example.com>",
                      PUBLIC_URL="https://desk.example.com", TELEGRAM_API_URL=http_receiver.url + "/")
    secret = new_webhook_secret()
    with app.app_context():
        number = Site.find(site_key).id
        db.session.add_all([
            Rule(site_id=number, recipient="email", target="factcheck@example.com", mode="instant",
                 match_field="kind", match_value="fact"),
            Rule(site_id=number, recipient="webhook", target=http_receiver.url + "/hook", secret=secret),
            Rule(site_id=number, recipient="slack", target=http_receiver.url + "/slack"),
            Rule(site_id=number, recipient="telegram", target="-100123", token="123:token")])
        db.session.commit()
    mixed = send(client, site_key, 1, "typo")["id"]
    send(client, site_key, 2, "fact")
    send(client, site_key, 3, "typo", exact="another error")

    outcomes = Worker(app, jobs=()).run_once()
    assert sorted(outcome.state for outcome in outcomes) == ["sent"] * 7
    [mail] = smtp_server.mails
    assert mail.recipients == ["factcheck@example.com"]
    assert "Kind: typo ×1, wrong fact ×1" in mail.text
    assert "Kind: typo ×1, wrong fact ×1" in mail.html

    requests = http_receiver.wait_for(6)
    hooks = [Webhook(secret).verify(r.body, {k.lower(): v for k, v in r.headers.items()})
             for r in requests if r.path == "/hook"]
    assert sorted((hook["data"]["id"], hook["data"]["kinds"]) for hook in hooks) == sorted(
        [(mixed, {"typo": 1, "fact": 1}), (mixed + 1, {"typo": 1})], key=lambda pair: pair[0])
    slack = sorted(r.json()["text"] for r in requests if r.path == "/slack")
    telegram = sorted(r.json()["text"] for r in requests if r.path.endswith("/sendMessage"))
    for texts in (slack, telegram):
        assert len(texts) == 2
        assert sum("Kind: typo ×1, wrong fact ×1" in text for text in texts) == 1
        assert sum("Kind: typo ×1" in text and "wrong fact" not in text for text in texts) == 1


def test_a_report_no_reader_classified_says_no_kind(client, app, site_key, smtp_server, http_receiver):
    from copydesk.worker import Worker
    app.config.update(SMTP_URL=smtp_server.url, MAIL_FROM="desk@news.example.com")
    secret = new_webhook_secret()
    with app.app_context():
        number = Site.find(site_key).id
        db.session.add_all([Rule(site_id=number, recipient="email", target="desk@example.com", mode="instant"),
                            Rule(site_id=number, recipient="webhook", target=http_receiver.url, secret=secret)])
        db.session.commit()
    send(client, site_key, 1)
    assert len(Worker(app, jobs=()).run_once()) == 2
    [mail] = smtp_server.mails
    assert "Kind:" not in mail.text and "Kind:" not in mail.html
    [request] = http_receiver.wait_for(1)
    assert Webhook(secret).verify(request.body, {k.lower(): v for k, v in request.headers.items()})[
        "data"]["kinds"] == {}


# --- Upgrading ---

def test_upgrade_counts_no_kind_asks_for_kinds_and_frees_the_default_language(app):
    """0007 on a desk with data: sites left on the old default "en" follow the page (what
    their readers saw before, when the page's language came first); a language chosen
    otherwise stays; every site asks for kinds; old reports count none. Down again, a site
    following the page gets "en" back."""
    from flask_migrate import downgrade, upgrade
    with app.app_context():
        downgrade(revision="0006")
        for number, language in ((7, "en"), (8, "ru")):
            db.session.execute(sa.text(
                "INSERT INTO site (id, name, name_key, key, allowed_origins_json, language, max_selection, "
                "reader_followup, created_at) VALUES (:id, :name, :name_key, :key, '[]', :language, 300, :no, "
                "'2026-01-01')"), {"id": number, "name": f"site {number}", "name_key": f"site {number}",
                                    "key": f"key-{number}", "language": language, "no": False})
        db.session.execute(sa.text(
            "INSERT INTO report (site_id, group_key, anchor_key, page_url, page_key, title, lang, article_id, "
            "article_section, article_author, article_published, exact, prefix, suffix, status, "
            "submission_count, notify_due, announced_count, created_at, updated_at, last_submitted_at) "
            "VALUES (8, 'g', 'g', 'https://a.example/x', 'https://a.example/x', '', '', '', '', '', '', 'teh', "
            "'', '', 'new', 3, :no, 0, '2026-01-01', '2026-01-01', '2026-01-01')"), {"no": False})
        db.session.commit()
        upgrade()
        assert db.session.execute(sa.select(Site.id, Site.language, Site.kinds_enabled).order_by(Site.id)).all() == [
            (7, None, True), (8, "ru", True)]
        assert db.session.execute(sa.select(*COUNTS, Report.submission_count)).all() == [(0, 0, 0, 0, 3)]
        db.session.commit()
        downgrade(revision="0006")
        assert db.session.execute(sa.text("SELECT id, language FROM site ORDER BY id")).all() == [
            (7, "en"), (8, "ru")]
        db.session.commit()
        upgrade()
        db.engine.dispose()
