"""Closing the loop with the reader (issue 9, item 6): a site may offer "tell me when it's
fixed"; the address is stored only then, used for one thank-you when the report is closed
as fixed, erased after it (or at once for any other resolution, or by the retention
purge), and editors only ever see it masked."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, csrf_token, report_body, rows
from copydesk.db import db
from copydesk.models import Editor, Report, Site, Submission, utcnow
from copydesk.notify import readers
from copydesk.notify.models import Delivery, DeliveryItem
from test_api import post
from test_dashboard import act

ADDRESS = "jane.reader@example.org"


@pytest.fixture
def followup_key(make_site):
    """A site that offers readers "tell me when it's fixed"."""
    return make_site(name="Herald", origins=[ORIGIN], reader_followup=True)


@pytest.fixture
def logged_in(auth, make_editor):
    make_editor(role="admin")
    assert auth.login().status_code == 302
    return auth


def reader_emails(app):
    return {row.idempotency_key: row.reader_email
            for row in rows(app, sa.select(Submission.idempotency_key, Submission.reader_email))}


def send(client, key, idempotency_key, email=ADDRESS, **fields):
    body = report_body(key, idempotency_key=idempotency_key, **fields)
    if email is not None:
        body["email"] = email
    response = post(client, body)
    assert response.status_code == 201, response.json
    return response.json["id"]


def deliveries(app):
    return rows(app, sa.select(Delivery.kind, Delivery.channel, Delivery.recipient, Delivery.recipient_key,
                               Delivery.submission_id, Delivery.site_id, Delivery.mode, Delivery.state)
                .order_by(Delivery.id))


# --- the site setting ------------------------------------------------------------------

def test_widget_config_says_whether_the_site_offers_followup(client, site_key, followup_key):
    assert client.get(f"/api/v1/sites/{site_key}/widget-config").json["followup"] is False
    assert client.get(f"/api/v1/sites/{followup_key}/widget-config").json["followup"] is True


def test_openapi_document_describes_the_email_field_and_followup(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    email = schemas["Report"]["properties"]["email"]
    assert (email["type"], email["format"], email["maxLength"], email["nullable"]) == ("string", "email", 254, True)
    assert "email" not in schemas["Report"]["required"]
    assert schemas["WidgetConfig"]["properties"]["followup"]["type"] == "boolean"
    assert "followup" in schemas["WidgetConfig"]["required"]


def test_admin_turns_followup_on_and_off_in_the_site_form(app, client, logged_in, site_key):
    with app.app_context():
        site_id = db.session.scalar(sa.select(Site.id).where(Site.key == site_key))
    page = client.get(f"/sites/{site_id}")
    followup_ticked = re.compile(r'<input id="reader_followup"[^>]* checked')
    assert 'name="reader_followup"' in page.text and not followup_ticked.search(page.text)
    form = {"csrf_token": csrf_token(page.text), "name": "Daily", "origins": ORIGIN, "language": "en",
            "max_selection": "300"}
    assert client.post(f"/sites/{site_id}", data={**form, "reader_followup": "1"}).status_code == 302
    assert rows(app, sa.select(Site.reader_followup)) == [(True,)]
    assert followup_ticked.search(client.get(f"/sites/{site_id}").text)
    # An unticked checkbox is not sent at all: off.
    assert client.post(f"/sites/{site_id}", data=form).status_code == 302
    assert rows(app, sa.select(Site.reader_followup)) == [(False,)]


def test_sites_add_takes_reader_followup(app, runner):
    result = runner.invoke(args=["sites", "add", "Herald", "--origin", "https://herald.example.com",
                                 "--reader-followup"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["sites", "add", "Gazette", "--origin", "https://gazette.example.com"])
    assert result.exit_code == 0, result.output
    assert dict(rows(app, sa.select(Site.name, Site.reader_followup))) == {"Herald": True, "Gazette": False}


def test_demo_seeding_again_keeps_the_sites_followup(app):
    from copydesk.demo import seed_demo
    with app.app_context():
        site, _email, _password = seed_demo(["http://localhost:5000"])
        site.reader_followup = True
        db.session.commit()
        seed_demo(["http://127.0.0.1:5000"])
        assert db.session.get(Site, site.id).reader_followup is True


# --- intake ----------------------------------------------------------------------------

def test_address_is_stored_when_the_site_offers_followup(app, client, followup_key):
    send(client, followup_key, "reader-with-email-1")
    send(client, followup_key, "reader-without-1", email=None, exact="another error")
    assert reader_emails(app) == {"reader-with-email-1": ADDRESS, "reader-without-1": None}


def test_address_is_dropped_silently_when_the_site_does_not_offer_followup(app, client, site_key):
    send(client, site_key, "reader-with-email-1")
    assert reader_emails(app) == {"reader-with-email-1": None}


def test_null_address_is_no_address(app, client, followup_key):
    send(client, followup_key, "reader-null-email-1", email=None)
    response = post(client, {**report_body(followup_key, idempotency_key="reader-null-email-2", exact="x y"),
                             "email": None})
    assert response.status_code == 201
    assert set(reader_emails(app).values()) == {None}


@pytest.mark.parametrize(("email", "code"), [
    ("not an address", "not_email"),
    ("jane@", "not_email"),
    ("", "not_email"),
    ("a" * 245 + "@example.org", "too_long"),
    (42, "invalid"),
], ids=["words", "no-domain", "empty", "too-long", "number"])
def test_bad_address_is_a_422_with_a_code(app, client, followup_key, email, code):
    response = post(client, {**report_body(followup_key), "email": email})
    assert response.status_code == 422
    assert code in response.json["codes"]["email"]
    assert response.json["errors"]["email"]
    assert rows(app, sa.select(Submission)) == []


def test_a_replay_keeps_the_first_sends_address(app, client, followup_key):
    first = send(client, followup_key, "reader-replay-001")
    again = post(client, {**report_body(followup_key, idempotency_key="reader-replay-001"),
                          "email": "someone.else@example.org"})
    assert again.status_code == 201 and again.json["id"] == first
    assert reader_emails(app) == {"reader-replay-001": ADDRESS}


# --- closing the report ----------------------------------------------------------------

def test_closing_as_fixed_owes_each_reader_with_an_address_one_thank_you(app, client, logged_in, followup_key):
    report_id = send(client, followup_key, "reader-one-00001")
    send(client, followup_key, "reader-two-00002", email="second@example.net")
    send(client, followup_key, "reader-three-003", email=None)
    other = send(client, followup_key, "reader-other-004", exact="another error")  # another report
    submissions = dict(rows(app, sa.select(Submission.idempotency_key, Submission.id)))

    assert "Closed as fixed." in act(client, report_id, action="close", resolution="fixed").text

    with app.app_context():
        site_id = db.session.scalar(sa.select(Site.id))
    assert deliveries(app) == [
        ("reader-thanks", "email", "", f"reader:{submissions[key]}", submissions[key], site_id, "instant", "pending")
        for key in ("reader-one-00001", "reader-two-00002")]
    items = rows(app, sa.select(DeliveryItem.report_id, DeliveryItem.reason))
    assert items == [(report_id, "new"), (report_id, "new")]
    # Kept until the thank-you is sent: it is read at send time.
    assert reader_emails(app)["reader-one-00001"] == ADDRESS
    assert other != report_id


@pytest.mark.parametrize("resolution", ["not_an_error", "spam", "duplicate"])
def test_any_other_resolution_erases_the_addresses_at_once(app, client, logged_in, followup_key, resolution):
    report_id = send(client, followup_key, "reader-one-00001")
    send(client, followup_key, "reader-two-00002", email="second@example.net")
    other = send(client, followup_key, "reader-other-003", exact="another error")

    act(client, report_id, action="close", resolution=resolution,
        **({"duplicate_of": other} if resolution == "duplicate" else {}))

    assert deliveries(app) == []
    assert reader_emails(app) == {"reader-one-00001": None, "reader-two-00002": None,
                                  "reader-other-003": ADDRESS}


def test_reopening_cancels_an_unsent_thank_you_and_a_new_fix_owes_one_again(app, client, logged_in, followup_key):
    report_id = send(client, followup_key, "reader-one-00001")
    act(client, report_id, action="close", resolution="fixed")
    act(client, report_id, action="reopen")
    assert [d.state for d in deliveries(app)] == ["cancelled"]
    assert reader_emails(app) == {"reader-one-00001": ADDRESS}

    act(client, report_id, action="close", resolution="fixed")
    assert [d.state for d in deliveries(app)] == ["cancelled", "pending"]

    # Reopened and closed as not an error: nothing owed, the address gone.
    act(client, report_id, action="reopen")
    act(client, report_id, action="close", resolution="not_an_error")
    assert [d.state for d in deliveries(app)] == ["cancelled", "cancelled"]
    assert reader_emails(app) == {"reader-one-00001": None}


def test_a_reader_already_owed_a_thank_you_is_not_owed_a_second(app, client, followup_key):
    report_id = send(client, followup_key, "reader-one-00001")
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert readers.thank_readers(report) == 1
        db.session.commit()
        assert readers.thank_readers(report) == 0
        db.session.commit()
    assert len(deliveries(app)) == 1


def test_forget_address_erases_the_one_readers_address(app, client, followup_key, make_editor):
    editor_id = make_editor()
    report_id = send(client, followup_key, "reader-one-00001")
    send(client, followup_key, "reader-two-00002", email="second@example.net")
    with app.app_context():
        db.session.get(Report, report_id).close("fixed", by=db.session.get(Editor, editor_id))
        db.session.commit()
        first = db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).first()
        readers.forget_address(first)
        db.session.commit()
    assert reader_emails(app) == {"reader-one-00001": None, "reader-two-00002": "second@example.net"}


# --- what editors see ------------------------------------------------------------------

def test_mask_keeps_the_first_character_and_the_domain():
    assert readers.mask("jane.reader@example.org") == "j•••@example.org"
    assert readers.mask("x@y.example") == "x•••@y.example"
    assert readers.mask("") == ""


def test_report_page_shows_the_address_masked_never_in_full(app, client, logged_in, followup_key):
    report_id = send(client, followup_key, "reader-one-00001")
    send(client, followup_key, "reader-two-00002", email=None)
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 200
    assert "j•••@example.org" in page.text
    assert page.text.count("•••@") == 1
    assert ADDRESS not in page.text and "jane.reader" not in page.text


# --- retention -------------------------------------------------------------------------

def test_purge_erases_old_readers_addresses(app, client, runner, followup_key):
    send(client, followup_key, "reader-old-00001")
    send(client, followup_key, "reader-new-00002", exact="another error")
    with app.app_context():
        db.session.execute(sa.update(Submission).where(Submission.idempotency_key == "reader-old-00001")
                           .values(created_at=utcnow() - timedelta(days=40)))
        db.session.commit()
    result = runner.invoke(args=["purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert result.output == ("Erased personal fields of 1 submission(s) older than 30 days, "
                             "and 1 reader address(es); deleted 0 finished notification message(s).\n")
    assert reader_emails(app) == {"reader-old-00001": None, "reader-new-00002": ADDRESS}


def test_retention_purge_answers_its_counts(app, client, followup_key):
    from copydesk.retention import purge
    send(client, followup_key, "reader-old-00001")
    with app.app_context():
        db.session.execute(sa.update(Submission).values(created_at=utcnow() - timedelta(days=3)))
        db.session.commit()
        assert purge(2) == {"submissions": 1, "reader_addresses": 1, "deliveries": 0}
        assert purge(2) == {"submissions": 0, "reader_addresses": 0, "deliveries": 0}


# --- end to end ------------------------------------------------------------------------

def test_reader_gets_one_thank_you_with_the_corrected_sentence_then_the_address_is_gone(
        app, client, logged_in, followup_key, smtp_server):
    from copydesk.worker import Worker
    app.config["SMTP_URL"] = smtp_server.url
    report_id = send(client, followup_key, "reader-one-00001", suggestion="principal keeper")
    send(client, followup_key, "reader-two-00002", email=None, suggestion="principal keeper")
    act(client, report_id, action="close", resolution="fixed")

    outcomes = Worker(app).run_once()

    assert [(outcome.kind, outcome.state) for outcome in outcomes] == [("reader-thanks", "sent")]
    [mail] = smtp_server.mails
    assert mail.recipients == [ADDRESS]
    assert "The principal keeper kept the accounts" in mail.text
    assert reader_emails(app) == {"reader-one-00001": None, "reader-two-00002": None}
    assert [d.state for d in deliveries(app)] == ["sent"]
    # Once more: nothing else is owed, nothing is sent twice.
    Worker(app).run_once()
    assert len(smtp_server.mails) == 1


def test_two_readers_are_thanked_with_the_same_agreed_sentence_and_one_address_once(
        app, client, logged_in, followup_key, smtp_server):
    from copydesk.worker import Worker
    app.config["SMTP_URL"] = smtp_server.url
    other = "sam.reader@example.org"
    report_id = send(client, followup_key, "reader-one-00001", suggestion="principal keeper")
    send(client, followup_key, "reader-two-00002", email=other, suggestion="principal keepers")
    send(client, followup_key, "reader-six-00006", email=None, suggestion="principal keeper")
    # The same address again, on the same report (another browser): thanked once.
    send(client, followup_key, "reader-one-00003", email=ADDRESS.upper(), suggestion="Visit evil.example")
    act(client, report_id, action="close", resolution="fixed")
    assert sorted(d.recipient_key for d in deliveries(app)) == [
        f"reader:{sid}" for (sid,) in sorted(rows(app, sa.select(Submission.id).where(
            Submission.idempotency_key.in_(("reader-one-00001", "reader-two-00002")))))]

    Worker(app).run_once()

    mails = smtp_server.mails
    assert sorted(mail.recipients[0] for mail in mails) == [ADDRESS, other]
    # Each reader reads the correction two readers agreed on, never their own text.
    for mail in mails:
        assert "The principal keeper kept the accounts" in mail.text
        assert "keepers kept" not in mail.text and "evil.example" not in mail.text + mail.html
    assert mails[0].text == mails[1].text
    # Every copy of the address is gone once its thank-you went out.
    assert set(reader_emails(app).values()) == {None}
