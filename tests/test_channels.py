"""Sending through each channel to real receivers: an SMTP server (plain, STARTTLS, SMTPS,
with a login), Slack- and Telegram-shaped HTTP endpoints and signed webhooks verified with
the ``standardwebhooks`` package."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from conftest import ORIGIN, free_port, report_body
from copydesk.db import db
from copydesk.models import Report, Submission, utcnow
from copydesk.notify import channels
from copydesk.notify.models import Delivery, DeliveryItem, Rule, new_webhook_secret

DESK = "https://desk.example.com"
BROWSER = "Mozilla/5.0 (X11; Linux) Firefox/999 UA-MARKER"
READER = "reader.secret@example.org"


@pytest.fixture
def desk(app, site_key, client):
    """A site with one report sent by three readers (suggestions and comments varied); the
    desk's public address set, and every message's recipient settings at hand."""
    app.config["PUBLIC_URL"] = DESK
    app.config["MAIL_FROM"] = "Copydesk <desk@news.example.com>"
    sends = [("principal keeper", "Should be principal."), ("principal keeper", "<b>principal</b> & co"),
             ("principal", "")]
    for number, (suggestion, comment) in enumerate(sends):
        response = client.post("/api/v1/reports", json=report_body(
            site_key, idempotency_key=f"key-000000000{number}", suggestion=suggestion, comment=comment),
            headers={"Origin": ORIGIN, "User-Agent": BROWSER})
        assert response.status_code in (200, 201), response.text
    with app.app_context():
        report = db.session.scalar(sa.select(Report))
        # A reader asked to hear when it is fixed: no editor's message may carry the address.
        db.session.execute(sa.update(Submission).values(reader_email=READER))
        db.session.commit()
        ip_hash = db.session.scalar(sa.select(Submission.ip_hash).limit(1))
        assert ip_hash and report.submission_count == 3
        return {"report_id": report.id, "site_id": report.site_id, "ip_hash": ip_hash, "site_key": site_key}


def make_delivery(app, desk, channel="email", kind="report", recipient="editor@example.com",
                  rule_id=None, reports=None, reason="new", submission_id=None):
    with app.app_context():
        delivery = Delivery(site_id=desk["site_id"], channel=channel, kind=kind, recipient=recipient,
                            recipient_key=f"{channel}:{recipient}", rule_id=rule_id, submission_id=submission_id)
        for report_id in ([desk["report_id"]] if reports is None else reports):
            delivery.items.append(DeliveryItem(report_id=report_id, reason=reason, count=3))
        db.session.add(delivery)
        db.session.commit()
        return delivery.id


def send(app, delivery_id):
    with app.app_context():
        channels.send(db.session.get(Delivery, delivery_id))


def make_rule(app, desk, recipient, target, **fields):
    with app.app_context():
        rule = Rule(site_id=desk["site_id"], recipient=recipient, target=target, **fields)
        db.session.add(rule)
        db.session.commit()
        return rule.id


def public_id(app, delivery_id):
    with app.app_context():
        return db.session.get(Delivery, delivery_id).public_id


def assert_private(desk, *bodies):
    """No message carries what only the desk may know about readers."""
    for body in bodies:
        body = body.decode() if isinstance(body, bytes) else body
        assert desk["ip_hash"] not in body
        assert "UA-MARKER" not in body and "Firefox/999" not in body
        assert READER not in body and "reader.secret" not in body


# --- Email ---

def test_report_email_reads_back_with_the_selection_in_context(app, desk, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    delivery_id = make_delivery(app, desk)
    send(app, delivery_id)
    [mail] = smtp_server.wait_for(1)

    assert mail.recipients == ["editor@example.com"]
    assert mail.header("From") == "Copydesk <desk@news.example.com>"
    assert mail.header("Message-ID") == f"<{public_id(app, delivery_id)}@news.example.com>"
    assert mail.header("Date")
    assert "principle keeper" in mail.subject and "Daily" in mail.subject
    assert mail.message.get_content_type() == "multipart/alternative"

    text = mail.text
    assert "Each keeper stood a four-hour watch. The **principle keeper** kept the accounts" in text
    assert "principal keeper (2 readers)" in text and "principal (1 reader)" in text
    assert "Should be principal." in text and "<b>principal</b> & co" in text
    assert "Readers who sent it: 3" in text
    assert f"Open in the desk: {DESK}/reports/{desk['report_id']}" in text
    assert "Open on the page: https://daily.example.com/2026/11/lighthouse#:~:text=" in text
    assert "New report on Daily" in text

    html = mail.html
    assert 'The <mark style="background:#ffe08a;font-weight:bold">principle keeper</mark> kept the accounts' in html
    assert "&lt;b&gt;principal&lt;/b&gt; &amp; co" in html and "<b>principal</b>" not in html
    assert f'href="{DESK}/reports/{desk["report_id"]}"' in html
    assert 'href="https://daily.example.com/2026/11/lighthouse#:~:text=' in html
    assert_private(desk, mail.raw)


def test_the_dashboard_link_in_a_message_opens_the_report(app, desk, client, make_editor, auth):
    from copydesk.notify.messages import report_link
    make_editor()
    auth.login()
    with app.app_context():
        link = report_link(desk["report_id"])
    assert link.startswith(DESK + "/")
    page = client.get(link.removeprefix(DESK))
    assert page.status_code == 200 and "principle keeper" in page.text


def test_a_resent_delivery_keeps_its_message_id(app, desk, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    delivery_id = make_delivery(app, desk)
    send(app, delivery_id)
    send(app, delivery_id)  # say the worker died before recording the first send
    first, second = smtp_server.wait_for(2)
    assert first.header("Message-ID") == second.header("Message-ID")
    other = make_delivery(app, desk)
    send(app, other)
    assert smtp_server.wait_for(3)[2].header("Message-ID") != first.header("Message-ID")


def test_a_repeat_says_how_many_readers_sent_it(app, desk, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    send(app, make_delivery(app, desk, reason="repeat"))
    [mail] = smtp_server.wait_for(1)
    assert "Now reported by 3 readers" in mail.text and "Reported by 3 readers" in mail.subject


def test_a_digest_lists_its_reports_with_the_count_in_the_subject(app, desk, client, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    response = client.post("/api/v1/reports", json=report_body(
        desk["site_key"], idempotency_key="key-other-0001", exact="teh", prefix="We saw ",
        suffix=" light.", suggestion="the"), headers={"Origin": ORIGIN})
    assert response.status_code == 201
    second = response.json["id"]
    send(app, make_delivery(app, desk, kind="digest", reports=[desk["report_id"], second]))
    [mail] = smtp_server.wait_for(1)
    assert mail.subject == "2 reports on Daily"
    assert "**principle keeper**" in mail.text and "We saw **teh** light." in mail.text
    assert f"{DESK}/reports/{second}" in mail.html and f"{DESK}/reports/{desk['report_id']}" in mail.html
    assert_private(desk, mail.raw)


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_tls_with_a_login(app, desk, test_ca, trust_test_ca, tls):
    from receivers import SMTPServer
    server = SMTPServer(tls=tls, ca=test_ca, login=("desk user", "p@ss:w/rd")).start()
    try:
        # The user and password are percent-encoded in the URL, as the README says.
        scheme = {"starttls": "smtp+starttls", "smtps": "smtps"}[tls]
        app.config["SMTP_URL"] = f"{scheme}://desk%20user:p%40ss%3Aw%2Frd@localhost:{server.port}"
        send(app, make_delivery(app, desk))
        [mail] = server.wait_for(1)
        assert mail.recipients == ["editor@example.com"] and "**principle keeper**" in mail.text

        app.config["SMTP_URL"] = f"{scheme}://desk%20user:wrong-password@localhost:{server.port}"
        with pytest.raises(channels.SendError) as refused:
            send(app, make_delivery(app, desk))
        assert "refused the login" in str(refused.value)
        assert "wrong-password" not in str(refused.value) and not refused.value.permanent
        assert len(server.mails) == 1
    finally:
        server.stop()


def test_tls_to_an_untrusted_certificate_is_refused(app, desk, test_ca):
    from receivers import SMTPServer
    server = SMTPServer(tls="smtps", ca=test_ca).start()  # no trust_test_ca: not trusted
    try:
        app.config["SMTP_URL"] = f"smtps://localhost:{server.port}"
        with pytest.raises(channels.SendError) as refused:
            send(app, make_delivery(app, desk))
        assert "certificate" in str(refused.value) and not refused.value.permanent
        assert server.mails == []
    finally:
        server.stop()


def test_starttls_is_required_when_asked_for(app, desk, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url.replace("smtp://", "smtp+starttls://")
    with pytest.raises(channels.SendError) as refused:
        send(app, make_delivery(app, desk))
    assert "does not offer STARTTLS" in str(refused.value)
    assert smtp_server.mails == []


def test_a_mail_server_down_is_a_temporary_error(app, desk, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    smtp_server.stop()
    delivery_id = make_delivery(app, desk)
    with pytest.raises(channels.SendError) as refused:
        send(app, delivery_id)
    assert not refused.value.permanent and "Could not reach the mail server 127.0.0.1" in str(refused.value)
    smtp_server.start()
    send(app, delivery_id)
    assert len(smtp_server.wait_for(1)) == 1


def test_no_smtp_url_is_a_temporary_error(app, desk):
    app.config["SMTP_URL"] = None
    with pytest.raises(channels.SendError) as refused:
        send(app, make_delivery(app, desk))
    assert str(refused.value) == "COPYDESK_SMTP_URL is not set" and not refused.value.permanent


def test_an_address_the_server_refuses_for_good_is_a_permanent_error(app, desk):
    from aiosmtpd.controller import Controller

    class RefuseEditors:
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address.startswith("gone"):
                return f"550 5.1.1 <{address}>: no such user"
            if address.startswith("full"):
                return f"452 4.2.2 <{address}>: mailbox full"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_port()
    controller = Controller(RefuseEditors(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        with pytest.raises(channels.SendError) as gone:
            send(app, make_delivery(app, desk, recipient="gone@example.com"))
        assert gone.value.permanent and "550" in str(gone.value) and "gone@example.com" not in str(gone.value)
        with pytest.raises(channels.SendError) as full:
            send(app, make_delivery(app, desk, recipient="full@example.com"))
        assert not full.value.permanent and "452" in str(full.value)
    finally:
        controller.stop()


# --- The reader's thank-you ---

def _thank(app, desk, smtp_server, suggestion="principal", **report_fields):
    app.config["SMTP_URL"] = smtp_server.url
    with app.app_context():
        if report_fields:
            db.session.execute(sa.update(Report).values(**report_fields))
            db.session.commit()
        submission = db.session.scalar(sa.select(Submission).where(Submission.suggestion == suggestion))
        submission_id = submission.id
    send(app, make_delivery(app, desk, kind="reader-thanks", recipient="", submission_id=submission_id,
                            reports=[]))
    return smtp_server.wait_for(1)[0]


def test_a_reader_is_thanked_with_the_agreed_sentence_not_their_own_text(app, desk, smtp_server):
    # This reader suggested "principal"; two others agreed on "principal keeper".
    mail = _thank(app, desk, smtp_server)
    assert mail.recipients == [READER]
    assert "fixed" in mail.subject
    # The agreed suggestion, in the sentence, cut at the sentence's start.
    assert "The principal keeper kept the accounts" in mail.text
    assert "The principal keeper kept the accounts" in mail.html
    assert "The principal kept" not in mail.text and "watch" not in mail.text and "principle" not in mail.text
    # Nothing about other readers or editors.
    for other in ("Should be principal", "readers", "desk.example.com"):
        assert other not in mail.text and other not in mail.html


def test_a_suggestion_only_one_reader_made_is_never_quoted(app, desk, smtp_server):
    # A reader's free text mailed from the newsroom would let anyone write to anyone.
    with app.app_context():
        db.session.execute(sa.update(Submission).where(Submission.suggestion == "principal keeper")
                           .values(suggestion=""))
        db.session.execute(sa.update(Submission).where(Submission.suggestion == "principal")
                           .values(suggestion="Claim your prize at evil.example"))
        db.session.commit()
    mail = _thank(app, desk, smtp_server, suggestion="Claim your prize at evil.example")
    assert "evil.example" not in mail.text and "evil.example" not in mail.html
    assert "It is fixed now." in mail.text and "The Lighthouse Keepers" in mail.text


def test_a_reader_is_thanked_in_the_pages_language(app, desk, smtp_server):
    mail = _thank(app, desk, smtp_server, lang="ru-ru")
    assert "Спасибо" in mail.subject and "Спасибо" in mail.text and "Спасибо" in mail.html
    assert "The principal keeper kept the accounts" in mail.text


def test_an_erased_reader_address_is_a_permanent_error(app, desk, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    with app.app_context():
        submission_id = db.session.scalar(sa.select(Submission.id).limit(1))
        db.session.execute(sa.update(Submission).values(reader_email=None))
        db.session.commit()
    with pytest.raises(channels.SendError) as refused:
        send(app, make_delivery(app, desk, kind="reader-thanks", recipient="", submission_id=submission_id))
    assert refused.value.permanent
    assert smtp_server.mails == []


# --- Webhooks ---

def test_a_webhook_is_signed_per_standard_webhooks(app, desk, http_receiver):
    secret = new_webhook_secret()
    rule_id = make_rule(app, desk, "webhook", http_receiver.url + "/hooks/copydesk?token=t0p", secret=secret)
    delivery_id = make_delivery(app, desk, channel="webhook", recipient=http_receiver.url, rule_id=rule_id)
    send(app, delivery_id)
    [request] = http_receiver.wait_for(1)

    assert request.path == "/hooks/copydesk?token=t0p"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["webhook-id"] == public_id(app, delivery_id)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("Copydesk")
    payload = Webhook(secret).verify(request.body, headers)
    assert payload["type"] == "report.created"
    data = payload["data"]
    assert data["id"] == desk["report_id"] and data["exact"] == "principle keeper"
    assert data["readers"] == 3 and data["reason"] == "new"
    assert data["suggestions"] == [{"text": "principal keeper", "readers": 2}, {"text": "principal", "readers": 1}]
    assert data["dashboard_url"] == f"{DESK}/reports/{desk['report_id']}"
    assert data["link"].startswith("https://daily.example.com/2026/11/lighthouse#:~:text=")
    assert_private(desk, request.body)

    # A tampered body, or another secret, fails verification.
    tampered = request.body.replace(b"principle keeper", b"principal keeper")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(request.body, headers)


def test_a_retried_webhook_keeps_its_id(app, desk, http_receiver):
    rule_id = make_rule(app, desk, "webhook", http_receiver.url, secret=new_webhook_secret())
    delivery_id = make_delivery(app, desk, channel="webhook", reason="repeat", rule_id=rule_id)
    http_receiver.fail_next(1, 503)
    with pytest.raises(channels.SendError) as refused:
        send(app, delivery_id)
    assert not refused.value.permanent and "503" in str(refused.value)
    send(app, delivery_id)
    first, second = http_receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == public_id(app, delivery_id)
    assert second.json()["type"] == "report.repeated"


def test_during_a_rotation_either_secret_verifies(app, desk, http_receiver):
    old, new = new_webhook_secret(), new_webhook_secret()
    rule_id = make_rule(app, desk, "webhook", http_receiver.url, secret=new, previous_secret=old,
                        previous_secret_until=utcnow() + timedelta(hours=1))
    send(app, make_delivery(app, desk, channel="webhook", rule_id=rule_id))
    [request] = http_receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "report.created"

    # Once the rotation is over, only the new secret signs.
    with app.app_context():
        db.session.get(Rule, rule_id).previous_secret_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    send(app, make_delivery(app, desk, channel="webhook", rule_id=rule_id))
    request = http_receiver.wait_for(2)[1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request.body, request.headers)


def test_sign_matches_the_specification_example():
    # The example in the Standard Webhooks specification (spec/standard-webhooks.md).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    assert channels.sign([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body) == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("status, permanent", [(500, False), (502, False), (429, False), (408, False),
                                               (404, True), (410, True), (400, True), (301, True)])
def test_a_webhooks_answer_says_whether_to_retry(app, desk, http_receiver, status, permanent):
    rule_id = make_rule(app, desk, "webhook", http_receiver.url + "/secret-path", secret=new_webhook_secret())
    http_receiver.fail_next(1, status)
    with pytest.raises(channels.SendError) as refused:
        send(app, make_delivery(app, desk, channel="webhook", rule_id=rule_id))
    assert refused.value.permanent is permanent and str(status) in str(refused.value)
    assert "secret-path" not in str(refused.value)


def test_an_unreachable_webhook_is_a_temporary_error(app, desk, http_receiver):
    rule_id = make_rule(app, desk, "webhook", http_receiver.url + "/secret-path", secret=new_webhook_secret())
    http_receiver.stop()
    with pytest.raises(channels.SendError) as refused:
        send(app, make_delivery(app, desk, channel="webhook", rule_id=rule_id))
    assert not refused.value.permanent and "secret-path" not in str(refused.value)


def test_a_slow_webhook_times_out(app, desk, http_receiver):
    app.config["NOTIFY_TIMEOUT_SECONDS"] = 0.5
    rule_id = make_rule(app, desk, "webhook", http_receiver.url, secret=new_webhook_secret())
    http_receiver.holding.set()
    try:
        with pytest.raises(channels.SendError) as refused:
            send(app, make_delivery(app, desk, channel="webhook", rule_id=rule_id))
    finally:
        http_receiver.holding.clear()
    assert not refused.value.permanent and "did not answer within 0.5 s" in str(refused.value)


def test_a_removed_rule_is_a_permanent_error(app, desk, http_receiver):
    rule_id = make_rule(app, desk, "webhook", http_receiver.url, secret=new_webhook_secret())
    delivery_id = make_delivery(app, desk, channel="webhook", rule_id=rule_id)
    with app.app_context():
        db.session.delete(db.session.get(Rule, rule_id))
        db.session.commit()
        assert db.session.get(Delivery, delivery_id).rule_id is None
    with pytest.raises(channels.SendError) as refused:
        send(app, delivery_id)
    assert refused.value.permanent and http_receiver.requests == []


# --- Slack and Telegram ---

def test_slack_gets_escaped_mrkdwn(app, desk, http_receiver):
    rule_id = make_rule(app, desk, "slack", http_receiver.url + "/services/T0/B0/XYZ")
    send(app, make_delivery(app, desk, channel="slack", rule_id=rule_id))
    [request] = http_receiver.wait_for(1)
    assert request.path == "/services/T0/B0/XYZ"
    payload = request.json()
    text = payload["text"]
    assert payload["blocks"][0]["type"] == "section"
    assert payload["blocks"][0]["text"] == {"type": "mrkdwn", "text": text}
    assert "The *principle keeper* kept the accounts" in text
    assert "&lt;b&gt;principal&lt;/b&gt; &amp; co" in text and "<b>" not in text
    assert f"<{DESK}/reports/{desk['report_id']}|Open in the desk>" in text
    assert "<https://daily.example.com/2026/11/lighthouse#:~:text=" in text
    assert_private(desk, request.body)


def test_telegram_gets_send_message_with_escaped_html(app, desk, http_receiver):
    app.config["TELEGRAM_API_URL"] = http_receiver.url + "/"
    rule_id = make_rule(app, desk, "telegram", "-100123", token="123:SECRET-token")
    send(app, make_delivery(app, desk, channel="telegram", rule_id=rule_id))
    [request] = http_receiver.wait_for(1)
    assert request.path == "/bot123:SECRET-token/sendMessage"
    body = request.json()
    assert body["chat_id"] == "-100123" and body["parse_mode"] == "HTML"
    assert body["disable_web_page_preview"] is True
    assert "The <b>principle keeper</b> kept the accounts" in body["text"]
    assert "&lt;b&gt;principal&lt;/b&gt; &amp; co" in body["text"]
    assert f'<a href="{DESK}/reports/{desk["report_id"]}">' in body["text"]
    assert_private(desk, request.body)


@pytest.mark.parametrize("status, permanent", [(400, True), (403, True), (429, False), (500, False)])
def test_telegram_errors(app, desk, http_receiver, status, permanent):
    app.config["TELEGRAM_API_URL"] = http_receiver.url
    rule_id = make_rule(app, desk, "telegram", "42", token="123:SECRET-token")
    http_receiver.fail_next(1, status)
    with pytest.raises(channels.SendError) as refused:
        send(app, make_delivery(app, desk, channel="telegram", rule_id=rule_id))
    assert refused.value.permanent is permanent and str(status) in str(refused.value)
    assert "SECRET" not in str(refused.value)


def test_telegram_says_when_to_retry(app, desk, monkeypatch):
    """Telegram's own error answer: its description and retry_after reach the admin."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class TooMany(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"ok": False, "error_code": 429, "description": "Too Many Requests: retry later",
                               "parameters": {"retry_after": 17}}).encode()
            self.send_response(429)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), TooMany)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app.config["TELEGRAM_API_URL"] = f"http://127.0.0.1:{server.server_port}"
        rule_id = make_rule(app, desk, "telegram", "42", token="123:SECRET-token")
        with pytest.raises(channels.SendError) as refused:
            send(app, make_delivery(app, desk, channel="telegram", rule_id=rule_id))
        assert str(refused.value) == "Telegram answered 429: Too Many Requests: retry later (retry after 17 s)."
        assert not refused.value.permanent
    finally:
        server.shutdown()
        server.server_close()


# --- Tests through one rule ---

def test_send_test_through_each_channel(app, desk, http_receiver, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    app.config["TELEGRAM_API_URL"] = http_receiver.url
    secret = new_webhook_secret()
    rules = [make_rule(app, desk, "webhook", http_receiver.url + "/hook", secret=secret),
             make_rule(app, desk, "slack", http_receiver.url + "/slack"),
             make_rule(app, desk, "telegram", "42", token="1:tok"),
             make_rule(app, desk, "email", "desk@example.com")]
    with app.app_context():
        for rule_id in rules:
            channels.send_test(db.session.get(Rule, rule_id))
        channels.send_test_email("someone@example.com", db.session.get(Rule, rules[0]).site)
        with pytest.raises(channels.SendError):
            channels.send_test(Rule(site_id=desk["site_id"], recipient="everyone"))
    hook, slack, telegram = http_receiver.wait_for(3)
    assert Webhook(secret).verify(hook.body, hook.headers) == {
        "type": "test", "timestamp": hook.json()["timestamp"], "data": {"site": "Daily"}}
    assert "test message" in slack.json()["text"] and "Daily" in slack.json()["text"]
    assert telegram.path == "/bot1:tok/sendMessage" and "test message" in telegram.json()["text"]
    mails = smtp_server.wait_for(2)
    assert [mail.recipients for mail in mails] == [["desk@example.com"], ["someone@example.com"]]
    assert all(mail.subject == "Copydesk test message for Daily" for mail in mails)


@pytest.mark.parametrize("target", ["ftp://hooks.example.com/x", "not a url"])
def test_an_unusable_webhook_address_is_a_permanent_error(app, desk, target):
    rule_id = make_rule(app, desk, "webhook", target, secret=new_webhook_secret())
    with pytest.raises(channels.SendError) as refused:
        send(app, make_delivery(app, desk, channel="webhook", rule_id=rule_id))
    assert refused.value.permanent


# --- Private addresses (SSRF) ---

@pytest.mark.parametrize("settings", [{"NOTIFY_ALLOW_PRIVATE": False}], ids=["private refused"])
def test_webhook_to_a_private_address_is_refused(app, desk, http_receiver, monkeypatch):
    from copydesk.checks import fetch
    names = {"hooks.example.com": ["10.1.2.3"], "metadata.example.com": ["93.184.216.34", "169.254.169.254"]}
    real = fetch.resolve_host
    monkeypatch.setattr(fetch, "resolve_host", lambda host, port: names.get(host) or real(host, port))
    targets = [http_receiver.url + "/hook", "http://hooks.example.com/hook", "http://metadata.example.com/x",
               "http://[::1]:9/hook"]
    for target in targets:
        rule_id = make_rule(app, desk, "webhook", target, secret=new_webhook_secret())
        with pytest.raises(channels.SendError) as refused:
            send(app, make_delivery(app, desk, channel="webhook", recipient=target, rule_id=rule_id))
        assert refused.value.permanent
        assert "private, loopback or link-local address" in str(refused.value)
        assert "COPYDESK_NOTIFY_ALLOW_PRIVATE" in str(refused.value)
    # Slack and Telegram the same way; and a test says so at once, never "could not connect".
    slack = make_rule(app, desk, "slack", http_receiver.url + "/slack")
    with pytest.raises(channels.SendError, match="private"):
        send(app, make_delivery(app, desk, channel="slack", recipient="slack", rule_id=slack))
    app.config["TELEGRAM_API_URL"] = http_receiver.url
    telegram = make_rule(app, desk, "telegram", "-100123", token="123456:" + "A" * 30)
    with pytest.raises(channels.SendError, match="private"):
        send(app, make_delivery(app, desk, channel="telegram", recipient="-100123", rule_id=telegram))
    with app.app_context():
        [outcome] = db.session.get(Rule, slack).test()
    assert outcome.state == "failed" and "private" in outcome.detail
    assert http_receiver.requests == []


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(app, desk, http_receiver, monkeypatch):
    from copydesk.checks import fetch
    port = int(http_receiver.url.rsplit(":", 1)[1])
    asked = []

    def resolve(host, port):
        asked.append(host)
        return ["127.0.0.1"]
    monkeypatch.setattr(fetch, "resolve_host", resolve)
    target = f"http://hooks.example.test:{port}/hook?key=1"
    rule_id = make_rule(app, desk, "webhook", target, secret=new_webhook_secret())
    send(app, make_delivery(app, desk, channel="webhook", recipient=target, rule_id=rule_id))
    [request] = http_receiver.wait_for(1)
    assert asked == ["hooks.example.test"]  # resolved once, by the checked path
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert request.path == "/hook?key=1" and headers["host"] == f"hooks.example.test:{port}"


def test_webhook_carries_the_captured_context_and_the_kinds(app, desk, http_receiver):
    long_prefix = "word " * 40 + "The "
    with app.app_context():
        db.session.execute(sa.update(Report).values(prefix=long_prefix, suffix=" kept the accounts." + " x" * 60))
        db.session.commit()
    secret = new_webhook_secret()
    rule_id = make_rule(app, desk, "webhook", http_receiver.url + "/hook", secret=secret)
    send(app, make_delivery(app, desk, channel="webhook", recipient="x", rule_id=rule_id))
    data = http_receiver.wait_for(1)[0].json()["data"]
    # As the browser captured it, not cut for display with "…".
    assert data["prefix"] == long_prefix and data["suffix"] == " kept the accounts." + " x" * 60
    assert "kinds" in data and isinstance(data["kinds"], dict)
