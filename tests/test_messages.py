"""What notifications say: the selection in context, the corrected sentence of a reader's
thank-you, escaping in every format, and links only to the site's own pages."""

import sqlalchemy as sa

from conftest import ORIGIN, report_body
from copydesk.db import db
from copydesk.models import Report, Site
from copydesk.notify import messages
from copydesk.notify.models import Delivery, DeliveryItem

DESK = "https://desk.example.com"


def file(client, site_key, **fields):
    response = client.post("/api/v1/reports", json=report_body(site_key, **fields), headers={"Origin": ORIGIN})
    assert response.status_code == 201, response.text
    return response.json["id"]


def delivery_for(report_id, channel="email", kind="report"):
    report = db.session.get(Report, report_id)
    delivery = Delivery(site_id=report.site_id, channel=channel, kind=kind, recipient="e@example.com",
                        recipient_key="email:e@example.com")
    delivery.items.append(DeliveryItem(report_id=report_id, reason="new", count=1))
    db.session.add(delivery)
    db.session.flush()
    return delivery


def test_long_context_is_cut_at_a_word_with_an_ellipsis(app, client, site_key):
    app.config["PUBLIC_URL"] = DESK
    before = "The keepers of the northern light kept a log of ships, storms and supplies every night, and "
    after = " of the lamp, which they wound by hand every two hours through the long winter nights without fail"
    report_id = file(client, site_key)
    with app.app_context():
        report = db.session.get(Report, report_id)
        report.prefix, report.suffix = before, after  # longer than the API takes today
        facts = messages.report_facts(report)
    assert facts.before.startswith("…") and facts.before.endswith("every night, and ")
    assert len(facts.before) <= messages.CONTEXT_SHOWN + 1 and " " + facts.before[1:] in " " + before
    assert facts.after.endswith("…") and facts.after.startswith(" of the lamp")
    assert facts.after[:-1] in after and not facts.after[:-1].endswith(" ")


def test_reader_text_in_every_format_is_escaped(app, client, site_key):
    app.config["PUBLIC_URL"] = DESK
    attack = '<script>alert(1)</script><a href="https://evil.example">x</a>'
    report_id = file(client, site_key, title=attack, exact="<img src=x onerror=alert(1)>",
                     comment=attack, suggestion="{{ config.SECRET_KEY }}")
    with app.app_context():
        delivery = delivery_for(report_id)
        email = messages.email_for(delivery)
        telegram = messages.telegram_text(delivery)
        slack = messages.slack_payload(delivery)["text"]
    for html in (email.html, telegram):
        assert "<script>" not in html and "<img" not in html and 'href="https://evil.example"' not in html
        assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>" not in slack and "<img" not in slack and "&lt;script&gt;" in slack
    assert "<https://evil.example" not in slack
    # Reader text is data, never a template.
    assert "{{ config.SECRET_KEY }}" in email.text and app.config["SECRET_KEY"] not in email.text


def test_a_page_off_the_sites_origins_is_shown_but_not_linked(app, client, site_key):
    app.config["PUBLIC_URL"] = DESK
    report_id = file(client, site_key)
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        site.allowed_origins = ["https://elsewhere.example.com"]  # the origin was removed since
        db.session.commit()
        delivery = delivery_for(report_id)
        email = messages.email_for(delivery)
        telegram = messages.telegram_text(delivery)
    assert "Open on the page" not in email.text and "Open on the page" not in email.html
    assert 'href="https://daily.example.com' not in email.html and "daily.example.com/2026" in email.text
    assert 'href="https://daily.example.com' not in telegram
    assert f"{DESK}/reports/{report_id}" in email.text


def test_corrected_sentence_uses_the_suggestion_within_the_sentence(app, client, site_key):
    report_id = file(client, site_key, prefix="It was dusk. The keepers lit the ", exact="lamb",
                     suffix=" at six. Then they ate.", suggestion="lamp")
    file(client, site_key, idempotency_key="key-0000000002", prefix="It was dusk. The keepers lit the ",
         exact="lamb", suffix=" at six. Then they ate.", suggestion="lamp!")
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert messages.corrected_sentence(report, "lantern") == ("The keepers lit the lantern at six.", True, True)
        # One reader each: no suggestion is agreed, so a thank-you quotes none.
        assert messages.agreed_suggestion(report.id) == ""
        report.prefix, report.suffix = "keepers lit the ", " at six and"
        assert messages.corrected_sentence(report, "lamp") == ("keepers lit the lamp at six and", False, False)


def test_thanks_language():
    assert messages.thanks_language("ru") == "ru" and messages.thanks_language("ru-RU") == "ru"
    assert messages.thanks_language("de") == "en" and messages.thanks_language("") == "en"


def test_the_desk_address_warning_is_logged_once_per_process(app, client, site_key, capsys, caplog):
    """The worker warns in its log (JSON lines under `copydesk serve`), never in plain text
    on stderr, and once, not with every message."""
    app.config["PUBLIC_URL"] = None
    report_id = file(client, site_key)
    with app.app_context():
        first = messages.report_link(report_id)
        second = messages.report_link(report_id)
    assert first == second and first.endswith(f"/reports/{report_id}")
    warnings = [r for r in caplog.records if "COPYDESK_PUBLIC_URL is not set" in r.getMessage()]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert "COPYDESK_PUBLIC_URL" not in capsys.readouterr().err


def test_a_digest_subject_counts_its_reports(app, client, site_key):
    app.config["PUBLIC_URL"] = DESK
    first = file(client, site_key)
    second = file(client, site_key, idempotency_key="key-0000000002", exact="teh", prefix="We saw ", suffix="")
    with app.app_context():
        delivery = delivery_for(first, kind="digest")
        delivery.items.append(DeliveryItem(report_id=second, reason="repeat", count=5))
        email = messages.email_for(delivery)
    assert email.subject == "2 reports on Daily"
    assert "New report on Daily" in email.text and "Now reported by 5 readers on Daily" in email.text
    assert email.text.index("principle keeper") < email.text.index("teh")
    assert f"All reports: {DESK}/reports" in email.text


def _balanced(html):
    """Telegram's parser's view: every tag closed in order, every & an entity."""
    import re
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=False)
            self.open, self.bad = [], False

        def handle_starttag(self, tag, attrs):
            self.open.append(tag)

        def handle_endtag(self, tag):
            self.bad = self.bad or not self.open or self.open.pop() != tag
    parser = Tags()
    parser.feed(html)
    parser.close()
    return not parser.bad and not parser.open and not re.search(r"&(?!amp;|lt;|gt;|quot;|#x?[0-9a-f]+;)", html)


def test_chat_messages_with_the_longest_fields_fit_with_tags_whole(app, client, site_key):
    app.config["PUBLIC_URL"] = DESK
    report_id = file(client, site_key)
    for number in range(5):
        file(client, site_key, idempotency_key=f"key-sugg-{number:05}", suggestion=f"<{number}> & " + "s" * 196,
             comment=f"<c{number}> & " + "c" * 292)
    with app.app_context():
        report = db.session.get(Report, report_id)
        report.title = "Title & <more> " * 70  # each & and < an entity in HTML
        report.page_url = ORIGIN + "/2026/long?" + "a=1&b=2&" * 300
        report.canonical_url = None  # the long address is the link
        report.exact, report.prefix, report.suffix = "x&y " * 125, "before & " * 20, " after & " * 20
        db.session.commit()
        telegram = messages.telegram_text(delivery_for(report_id, channel="telegram"))
        slack = messages.slack_payload(delivery_for(report_id, channel="slack"))["text"]
    assert len(telegram) <= messages.TELEGRAM_TEXT_MAX and _balanced(telegram)
    assert "New report" in telegram and f"{DESK}/reports/{report_id}" in telegram
    assert len(slack) <= messages.SLACK_TEXT_MAX
    # Each <link|label> whole: as many < as >, none inside another.
    import re
    unquoted = re.sub(r"(?m)^> ", "", slack)  # a quote line's own mark
    assert re.fullmatch(r"(?:[^<>]|<[^<>|]+\|[^<>]+>)*", unquoted, re.S), slack
    assert f"<{DESK}/reports/{report_id}|Open in the desk>" in slack


def test_a_digest_lists_50_reports_then_how_many_more_in_a_few_queries(app, client, site_key):
    app.config["PUBLIC_URL"] = DESK
    ids = [file(client, site_key, idempotency_key=f"key-digest-{n:04}", exact=f"wrod{n}", prefix="A ", suffix=".",
                comment=f"comment {n}", suggestion=f"word{n}") for n in range(60)]
    with app.app_context():
        delivery = delivery_for(ids[0], kind="digest")
        delivery.items.extend(DeliveryItem(report_id=report_id, reason="new", count=1) for report_id in ids[1:])
        db.session.commit()
        delivery_id = delivery.id
        db.session.expunge_all()
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            email = messages.email_for(db.session.get(Delivery, delivery_id))
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    assert email.subject == "60 reports on Daily"
    assert email.text.count("New report on Daily") == 50
    assert "wrod49" in email.text and "wrod50" not in email.text and "comment 49" in email.text
    assert f"…and 10 more reports: {DESK}/reports" in email.text and "10 more reports" in email.html
    assert len(statements) <= 10, statements
