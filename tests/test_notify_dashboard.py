"""A site's notifications page (admins) and each editor's choices under Account."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import csrf_token, rows
from copydesk.db import db
from copydesk.models import Report, Site, Submission, utcnow
from copydesk.notify.models import AuthorContact, Delivery, Job, Preference, Rule

ADMIN = "admin@example.com"
PASSWORD = "correct horse battery"
SLACK = "https://hooks.slack.com/services/T0000/B0000/SLACKSECRETPART1234"
TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ZY"


@pytest.fixture
def site_id(app, make_site):
    make_site(name="The Daily")
    with app.app_context():
        return Site.find("The Daily").id


@pytest.fixture
def admin(client, auth, make_editor):
    make_editor(ADMIN, role="admin", name="Ada Admin")
    assert auth.login(ADMIN).status_code == 302
    return client


def page_url(site_id, rest=""):
    return f"/sites/{site_id}/notifications{rest}"


def post(client, url, data=None):
    token = csrf_token(client.get("/account").text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def rules_of(app):
    with app.app_context():
        return db.session.execute(sa.select(Rule.recipient, Rule.target, Rule.mode, Rule.match_field,
                                            Rule.match_value).order_by(Rule.id)).all()


def add_rule(app, site_id, **fields):
    with app.app_context():
        rule = Rule(site_id=site_id, **{"target": "", **fields})
        db.session.add(rule)
        db.session.commit()
        return rule.id


def add_delivery(app, site_id, **fields):
    values = {"channel": "email", "recipient": "desk@example.com", "recipient_key": "email:desk@example.com",
              "state": "pending", **fields}
    with app.app_context():
        delivery = Delivery(site_id=site_id, **values)
        db.session.add(delivery)
        db.session.commit()
        return delivery.id


def test_site_page_links_to_its_notifications(admin, site_id):
    assert f'href="/sites/{site_id}/notifications"' in admin.get(f"/sites/{site_id}").text


def test_an_editor_can_neither_see_nor_change_notifications(app, client, auth, make_editor, site_id):
    make_editor("ed@example.com")
    auth.login("ed@example.com")
    assert client.get(page_url(site_id)).status_code == 403
    response = post(client, page_url(site_id), {"recipient": "email", "target": "ed@example.com"})
    assert response.status_code == 403
    assert rules_of(app) == []


def test_admin_adds_an_email_rule_and_sees_it_listed(app, admin, site_id):
    response = post(admin, page_url(site_id), {"recipient": "email", "target": "Desk@Example.com",
                                               "mode": "hourly", "section": "Politics"})
    assert response.status_code == 302
    assert rules_of(app) == [("email", "desk@example.com", "hourly", "section", "Politics")]
    page = admin.get(page_url(site_id)).text
    assert "Rule added: desk@example.com hears section “Politics”." in page
    assert re.search(r'data-label="Target" class="target">desk@example.com</td>\s*'
                     r'<td data-label="Hears">section “Politics”</td>\s*<td data-label="How often">hourly</td>', page)


@pytest.mark.parametrize("add, present, absent", [
    (None, ['type="email" required', 'name="mode"'], ['name="token"']),
    ("telegram", ['name="token"', "Telegram chat id"], ['name="mode"']),
    ("everyone", ["Every active editor hears"], ['name="target"', 'name="mode"']),
    ("editor", ['<select id="target" name="target" required>', '<option value="admin@example.com"'], ['name="mode"']),
    ("author", ['name="mode"', "author contacts"], ['name="target"', 'id="rule-author"']),
    ("webhook", ['type="url"', "Standard Webhooks"], ['name="token"']),
])
def test_the_form_shows_the_fields_of_the_chosen_recipient(admin, site_id, add, present, absent):
    page = admin.get(page_url(site_id, f"?add={add}" if add else "")).text
    form = page[page.index('<h2 id="add-rule">'):page.index('<h2 id="authors">')]
    assert f'name="recipient" value="{add or "email"}"' in form
    for text in present:
        assert text in form
    for text in absent:
        assert text not in form


@pytest.mark.parametrize("form, message", [
    ({"recipient": "email", "target": "not-an-address"}, "&#39;not-an-address&#39; is not an email address."),
    ({"recipient": "webhook", "target": "javascript:alert(1)"}, "is not an https:// (or http://) URL"),
    ({"recipient": "telegram", "target": "@dailydesk"}, "Give the bot&#39;s token as @BotFather shows it"),
    ({"recipient": "email", "target": "a@example.com", "section": "Politics", "kind": "typo"},
     "A rule hears one of: a section, an author or a kind (or every report)."),
    ({"recipient": "email", "target": "a@example.com", "mode": "weekly"}, "A mode is one of: instant, hourly, daily."),
    ({"recipient": "pigeon", "target": "a@example.com"}, "A recipient is one of:"),
    ({"recipient": "editor", "target": "nobody@example.com"}, "No editor has the email nobody@example.com."),
])
def test_bad_input_is_explained_on_the_page_and_adds_nothing(app, admin, site_id, form, message):
    response = post(admin, page_url(site_id), form)
    assert response.status_code == 400
    assert message in response.text
    assert "<strong>Error:</strong>" in response.text
    assert rules_of(app) == []


def test_a_rule_is_added_once(app, admin, site_id):
    form = {"recipient": "email", "target": "desk@example.com"}
    assert post(admin, page_url(site_id), form).status_code == 302
    again = post(admin, page_url(site_id), form)
    assert again.status_code == 400 and "The site has this rule already (rule 1)." in again.text
    assert len(rules_of(app)) == 1


def test_webhook_secret_is_shown_once_then_masked(app, admin, site_id):
    response = post(admin, page_url(site_id), {"recipient": "webhook", "target": "https://hooks.example.com/in"})
    assert response.status_code == 201
    with app.app_context():
        secret = db.session.scalar(sa.select(Rule.secret))
    assert f'<code class="secret">{secret}</code>' in response.text
    assert "shown only this once" in response.text
    later = admin.get(page_url(site_id)).text
    assert secret not in later and secret[6:20] not in later
    assert f"https://hooks.example.com (secret whsec_…{secret[-4:]})" in later and "hooks.example.com/in" not in later
    assert secret not in str(admin.get_cookie("session").value if admin.get_cookie("session") else "")


def test_slack_url_and_telegram_token_are_masked_on_the_page(app, admin, site_id):
    assert post(admin, page_url(site_id), {"recipient": "slack", "target": SLACK}).status_code == 302
    assert post(admin, page_url(site_id), {"recipient": "telegram", "target": "-1001234567890",
                                           "token": TOKEN}).status_code == 302
    page = admin.get(page_url(site_id)).text
    assert "SLACKSECRETPART" not in page and TOKEN not in page and TOKEN[10:-3] not in page
    assert "https://hooks.slack.com/…1234" in page and "chat -1001234567890 (bot token 123456789:…-ZY)" in page


def test_remove_asks_first_then_cancels_the_rules_pending_deliveries(app, admin, site_id):
    rule = add_rule(app, site_id, recipient="webhook", secret="whsec_x")
    pending = add_delivery(app, site_id, rule_id=rule, channel="webhook", recipient_key=f"rule:{rule}")
    sent = add_delivery(app, site_id, rule_id=rule, channel="webhook", recipient_key=f"rule:{rule}", state="sent")
    confirm = admin.get(page_url(site_id, f"/rules/{rule}/remove"))
    assert confirm.status_code == 200
    assert "Remove rule 1?" in confirm.text and "1 message not yet sent through this rule is cancelled" in confirm.text
    assert rules_of(app) != []
    response = post(admin, page_url(site_id, f"/rules/{rule}/remove"))
    assert response.status_code == 302
    assert rules_of(app) == []
    assert rows(app, sa.select(Delivery.id, Delivery.state).order_by(Delivery.id)) == [
        (pending, "cancelled"), (sent, "sent")]
    assert "1 message not yet sent was cancelled." in admin.get(page_url(site_id)).text


def test_new_secret_is_shown_once_and_the_old_one_kept_for_a_day(app, admin, site_id):
    rule = add_rule(app, site_id, recipient="webhook", target="https://hooks.example.com/", secret="whsec_old")
    response = post(admin, page_url(site_id, f"/rules/{rule}/secret"))
    assert response.status_code == 200
    with app.app_context():
        found = db.session.get(Rule, rule)
        new, previous, until = found.secret, found.previous_secret, found.previous_secret_until
    assert previous == "whsec_old" and new.startswith("whsec_") and new != previous
    assert abs(until - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)
    assert f'<code class="secret">{new}</code>' in response.text
    assert f'The previous secret also signs each message until <time datetime="{until:%Y-%m-%dT%H:%M:%S}Z"' in response.text
    assert new not in admin.get(page_url(site_id)).text


def test_only_a_webhook_gets_a_new_secret(app, admin, site_id):
    rule = add_rule(app, site_id, recipient="email", target="a@example.com")
    response = post(admin, page_url(site_id, f"/rules/{rule}/secret"))
    assert response.status_code == 400 and "Only a webhook rule has a signing secret." in response.text


@pytest.mark.parametrize("path", ["/rules/{rule}/remove", "/rules/999/remove", "/rules/{rule}/secret",
                                  "/authors/999/remove", "/deliveries/999/retry"])
def test_another_sites_or_a_missing_row_is_404(app, admin, site_id, make_site, path):
    make_site(name="The Weekly", origins=["https://weekly.example.com"])
    with app.app_context():
        weekly = Site.find("The Weekly").id
    rule = add_rule(app, weekly, recipient="webhook", target="https://hooks.example.com/", secret="whsec_x")
    response = post(admin, page_url(site_id, path.format(rule=rule)))
    assert response.status_code == 404
    assert rows(app, sa.select(Rule.secret)) == [("whsec_x",)]
    assert admin.get("/sites/999/notifications").status_code == 404


def test_author_contacts_are_added_replaced_and_removed(app, admin, site_id, make_editor):
    make_editor("bea@example.com", name="Bea")
    assert post(admin, page_url(site_id, "/authors"), {"author": "Ann  Lee", "address": "Ann@Example.com"}
                ).status_code == 302
    assert post(admin, page_url(site_id, "/authors"), {"author": "Bea Rook", "address": "bea@example.com"}
                ).status_code == 302
    assert post(admin, page_url(site_id, "/authors"), {"author": "ann lee", "address": "ann.lee@example.com"}
                ).status_code == 302
    page = admin.get(page_url(site_id)).text
    assert "ann.lee@example.com" in page and "bea@example.com (editor)" in page
    with app.app_context():
        contacts = db.session.execute(sa.select(AuthorContact.id, AuthorContact.author_key, AuthorContact.email)
                                      .order_by(AuthorContact.id)).all()
    assert [c[1:] for c in contacts] == [("ann lee", "ann.lee@example.com"), ("bea rook", "")]
    assert post(admin, page_url(site_id, f"/authors/{contacts[0][0]}/remove")).status_code == 302
    assert rows(app, sa.select(AuthorContact.author_key)) == [("bea rook",)]
    assert "Contact for “ann lee” removed." in admin.get(page_url(site_id)).text


@pytest.mark.parametrize("form, message", [
    ({"author": "Ann Lee", "address": "nope"}, "Not a valid email address."),
    ({"author": " ", "address": "ann@example.com"}, "Give the author&#39;s name as the pages declare it."),
    ({"address": "ann@example.com"}, "Missing data for required field."),
])
def test_bad_author_contact_is_explained(app, admin, site_id, form, message):
    response = post(admin, page_url(site_id, "/authors"), form)
    assert response.status_code == 400 and message in response.text
    assert rows(app, sa.select(AuthorContact)) == []


def test_send_a_test_shows_each_outcome(app, admin, site_id, smtp_server, http_receiver):
    app.config["SMTP_URL"] = smtp_server.url
    add_rule(app, site_id, recipient="everyone")
    add_rule(app, site_id, recipient="webhook", target=http_receiver.url + "/hook", secret="whsec_" + "A" * 44)
    add_rule(app, site_id, recipient="slack", target=http_receiver.url + "/slack")
    http_receiver.fail_next(1, 500)  # the webhook, tested first among the channels
    response = post(admin, page_url(site_id, "/test"))
    assert response.status_code == 200
    results = response.text[response.text.index("Test results"):response.text.index("<h2>Rules</h2>")]
    assert re.search(r'outcome-ok">\s*<td data-label="Rule">1 · Every editor</td>\s*'
                     r'<td data-label="Sent to" class="target">admin@example.com</td>\s*'
                     r'<td data-label="Outcome">Sent</td>', results)
    assert re.search(r'outcome-failed">\s*<td data-label="Rule">2 · Signed webhook</td>.*?'
                     r'<strong>Failed:</strong> [^<]*500', results, re.S)
    assert re.search(r'outcome-ok">\s*<td data-label="Rule">3 · Slack</td>', results)
    assert [mail.recipients for mail in smtp_server.wait_for(1)] == [["admin@example.com"]]
    assert sorted(r.path for r in http_receiver.wait_for(2)) == ["/hook", "/slack"]


def test_the_page_says_when_mail_waits_for_smtp(app, admin, site_id):
    assert "Email waits until COPYDESK_SMTP_URL is set" in admin.get(page_url(site_id)).text
    app.config["SMTP_URL"] = "smtp://127.0.0.1:2525"
    assert "Email waits until COPYDESK_SMTP_URL is set" not in admin.get(page_url(site_id)).text


def test_recent_deliveries_show_the_last_50_without_secrets_or_readers(app, admin, site_id):
    rule = add_rule(app, site_id, recipient="slack", target=SLACK)
    with app.app_context():
        report = Report(site_id=site_id, anchor_key="k" * 64, page_url="https://daily.example.com/a",
                        page_key="https://daily.example.com/a", exact="teh")
        db.session.add(report)
        db.session.flush()
        submission = Submission(report_id=report.id, site_id=site_id, idempotency_key="reader-0001",
                                reader_email="reader.secret@example.org")
        db.session.add(submission)
        db.session.commit()
        submission_id = submission.id
    for n in range(52):
        add_delivery(app, site_id, recipient=f"old{n}@example.com", state="sent")
    add_delivery(app, site_id, rule_id=rule, channel="slack", recipient=SLACK, recipient_key=f"rule:{rule}",
                 state="failed", attempts=7, last_error="hooks.slack.com answered 500")
    add_delivery(app, site_id, kind="reader-thanks", submission_id=submission_id, recipient="",
                 recipient_key=f"reader:{submission_id}", state="sent")
    page = admin.get(page_url(site_id)).text
    table = page[page.index('<table class="stack deliveries">'):]
    assert table.count("<tr class=\"delivery-") == 50
    shown = re.findall(r'class="target">old(\d+)@example.com<', table)
    assert shown == [str(n) for n in range(51, 3, -1)]  # newest first; the oldest four are not shown
    assert "SLACKSECRETPART" not in page and "reader.secret" not in page
    assert "the reader (address not shown)" in table
    assert re.search(r'delivery-failed">.*?<td data-label="Channel">slack</td>.*?https://hooks.slack.com/…1234.*?'
                     r'state-failed">failed</span>.*?class="num">7</td>.*?hooks.slack.com answered 500.*?Retry',
                     table, re.S)
    assert table.count(">Retry</button>") == 1


def test_retry_makes_a_failed_delivery_due_again(app, admin, site_id):
    failed = add_delivery(app, site_id, state="failed", attempts=9, last_error="SMTP 451",
                          next_attempt_at=utcnow() + timedelta(days=1))
    response = post(admin, page_url(site_id, f"/deliveries/{failed}/retry"))
    assert response.status_code == 302
    [(state, attempts, due)] = rows(app, sa.select(Delivery.state, Delivery.attempts, Delivery.next_attempt_at))
    assert (state, attempts) == ("pending", 9) and due <= utcnow()
    assert f"Message {failed} will be tried again now." in admin.get(page_url(site_id)).text


def test_a_sent_delivery_is_not_retried(app, admin, site_id):
    sent = add_delivery(app, site_id, state="sent")
    response = post(admin, page_url(site_id, f"/deliveries/{sent}/retry"))
    assert response.status_code == 302
    assert rows(app, sa.select(Delivery.state)) == [("sent",)]
    assert "only a failed one, or one waiting to be tried again, can be retried now" in admin.get(page_url(site_id)).text


def test_a_site_added_in_the_dashboard_starts_with_the_everyone_rule(app, admin):
    response = post(admin, "/sites", {"name": "The Weekly", "origins": "https://weekly.example.com"})
    assert response.status_code == 302
    assert rules_of(app) == [("everyone", "", "instant", "", "")]
    page = admin.get(response.headers["Location"] + "/notifications").text
    assert re.search(r'<td data-label="Who">Every editor</td>\s*<td data-label="Target" class="target">every editor'
                     r'</td>\s*<td data-label="Hears">every report</td>', page)


# --- Account: how I hear each site ---

def test_account_offers_a_choice_per_site_daily_by_default(app, client, auth, make_editor, make_site):
    make_editor("ed@example.com")
    make_site(name="The Daily")
    make_site(name="The Weekly", origins=["https://weekly.example.com"])
    auth.login("ed@example.com")
    page = client.get("/account").text
    for site_id, name in ((1, "The Daily"), (2, "The Weekly")):
        assert f'<label for="mode-{site_id}">{name}</label>' in page
        select = page[page.index(f'name="mode-{site_id}"'):]
        select = select[:select.index("</select>")]
        assert re.findall(r'<option value="(\w+)"', select) == ["instant", "hourly", "daily", "off"]
        assert '<option value="daily" selected>Daily digest (default)</option>' in select
    for label in ("Every report at once", "Hourly digest", "Nothing"):
        assert label in page


def test_account_choices_are_saved_and_used_to_route(app, client, auth, make_editor, site_id, make_site):
    from copydesk.notify.rules import recipients_for
    editor_id = make_editor("ed@example.com")
    make_site(name="The Weekly", origins=["https://weekly.example.com"])
    add_rule(app, site_id, recipient="everyone")
    auth.login("ed@example.com")
    response = post(client, "/account/notifications", {"mode-1": "instant", "mode-2": "off"})
    assert response.status_code == 302
    assert rows(app, sa.select(Preference.site_id, Preference.mode).order_by(Preference.site_id)) == [
        (1, "instant"), (2, "off")]
    page = client.get("/account").text
    assert "Notification choices saved." in page
    assert '<option value="instant" selected>' in page and '<option value="off" selected>' in page
    with app.app_context():
        report = Report(site_id=site_id, anchor_key="k" * 64, page_url="https://daily.example.com/a",
                        page_key="https://daily.example.com/a", exact="teh")
        [recipient] = recipients_for(report)
    assert (recipient.address, recipient.mode, recipient.editor_id) == ("ed@example.com", "instant", editor_id)
    post(client, "/account/notifications", {"mode-1": "hourly"})
    assert rows(app, sa.select(Preference.site_id, Preference.mode).order_by(Preference.site_id)) == [
        (1, "hourly"), (2, "off")]


def test_account_refuses_an_unknown_choice(app, client, auth, make_editor, site_id):
    make_editor("ed@example.com")
    auth.login("ed@example.com")
    response = post(client, "/account/notifications", {"mode-1": "weekly"})
    assert response.status_code == 400
    assert "A choice is one of: instant, hourly, daily, off." in response.text
    assert rows(app, sa.select(Preference)) == []


# --- On a phone ---

@pytest.mark.slow
def test_a_full_notifications_page_fits_a_phone(app, new_context, live_server, make_editor, make_site):
    from test_dashboard_phone import MEASURE, PHONE
    from test_e2e import log_in
    make_editor("managing.editor@northern-chronicle.example.com", role="admin")
    make_site(name="Northern Chronicle Correspondents Quarterly",
              origins=["https://www.northern-chronicle-correspondents.example.com"])
    long_url = "https://notifications.northern-chronicle-correspondents.example.com/hooks/copydesk/incoming"
    rule = add_rule(app, 1, recipient="webhook", target=long_url, secret="whsec_" + "B" * 44,
                    match_field="section", match_value="Parliamentary correspondents’ desk")
    add_rule(app, 1, recipient="email", target="night.desk.subeditor@northern-chronicle-correspondents.example.com")
    with app.app_context():
        db.session.add(AuthorContact(site_id=1, author="Anastasia Konstantinopolskaya", author_key="x",
                                     email="anastasia.konstantinopolskaya@northern-chronicle.example.com"))
        db.session.commit()
    add_delivery(app, 1, rule_id=rule, channel="webhook", recipient=long_url, recipient_key=f"rule:{rule}",
                 state="failed", attempts=12, last_error="notifications.northern-chronicle-correspondents.example.com "
                 "did not answer within 10 s.")
    page = new_context(**PHONE).new_page()
    log_in(page, live_server.url, "managing.editor@northern-chronicle.example.com", PASSWORD)
    for path in ("/sites/1/notifications", "/sites/1/notifications?add=editor", "/sites/1/notifications/rules/1/remove",
                 "/account"):
        page.goto(live_server.url + path)
        measured = page.evaluate(MEASURE, PHONE["viewport"]["width"])
        assert measured["scrollWidth"] <= 360 and measured["innerWidth"] == 360, (path, measured)
        assert measured["outOfView"] == [], (path, measured)
        assert measured["brokenWords"] == [], (path, measured)


def test_a_webhook_path_is_masked_in_the_deliveries_table(app, admin, site_id):
    add_delivery(app, site_id, channel="webhook", recipient="https://hooks.example.com/T0KEN/in?key=SECRETKEY",
                 recipient_key="rule:9", state="failed")
    page = admin.get(page_url(site_id)).text
    table = page[page.index('<table class="stack deliveries">'):]
    assert 'class="target">https://hooks.example.com<' in table
    assert "T0KEN" not in page and "SECRETKEY" not in page


def test_send_a_test_stops_at_its_time_budget_and_says_what_was_not_tried(
        app, admin, site_id, make_editor, smtp_server, monkeypatch):
    from copydesk.notify import models
    app.config.update(SMTP_URL=smtp_server.url, NOTIFY_TIMEOUT_SECONDS=1)
    make_editor("zed@example.com")
    add_rule(app, site_id, recipient="everyone")
    monkeypatch.setattr(models, "TEST_BUDGET_SECONDS", 0.5)
    smtp_server.holding.set()  # the mail server never answers DATA: the first send times out
    try:
        response = post(admin, page_url(site_id, "/test"))
    finally:
        smtp_server.holding.clear()
    results = response.text[response.text.index("Test results"):response.text.index("<h2>Rules</h2>")]
    assert re.search(r'outcome-failed">.*?admin@example.com.*?<strong>Failed:</strong>', results, re.S)
    assert re.search(r'outcome-not tried">.*?zed@example.com.*?Not tried: the test ran out', results, re.S)


def test_a_choice_sent_twice_at_once_is_saved_not_a_500(app, make_editor, site_id):
    import threading

    from copydesk.models import Editor
    from copydesk.notify.models import Preference
    make_editor()
    first_done, errors = threading.Event(), []

    def choose(mode, wait):
        with app.app_context():
            try:
                editor = Editor.find("editor@example.com")
                if wait:
                    first_done.wait(10)
                Preference.choose(editor, site_id, mode)
                if not wait:
                    # Not yet committed when the other request stores its choice.
                    threading.Timer(0.3, first_done.set).start()
                    import time
                    time.sleep(0.6)
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - what the test looks for
                errors.append(error)
                db.session.rollback()
    threads = [threading.Thread(target=choose, args=("instant", False)),
               threading.Thread(target=choose, args=("off", True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with app.app_context():
        assert db.session.execute(sa.select(Preference.mode)).scalars().all() == ["off"]


def test_the_page_says_when_no_worker_runs_and_shows_the_jobs_as_last_run(app, admin, site_id):
    quiet = "No background worker has run in the last 10 minutes"
    page = admin.get(page_url(site_id)).text
    assert quiet in page and "No worker has run yet." in page

    from copydesk.worker import Worker
    Worker(app).run_once()
    page = admin.get(page_url(site_id)).text
    assert quiet not in page
    assert re.search(r'<td data-label="Job">requested checks</td>\s*<td data-label="Last run"><time', page)

    with app.app_context():  # the last run an hour ago: the worker has stopped
        db.session.execute(sa.update(Job).values(last_run_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    assert quiet in admin.get(page_url(site_id)).text
