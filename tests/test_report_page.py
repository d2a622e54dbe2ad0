"""A report's page: suggestions counted and shown as corrections in the sentence, the
submissions numbered from the first reader, duplicates linked both ways, one timeline."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from selectolax.lexbor import LexborHTMLParser

from conftest import report_body
from copydesk.db import db
from copydesk.models import Editor, Report, Submission
from test_api import post


@pytest.fixture
def editor(auth, make_editor):
    editor_id = make_editor()
    assert auth.login().status_code == 302
    return editor_id


def file(client, site_key, n, **fields):
    """One reader's send (``n`` keeps its idempotency key apart); answers the report id."""
    response = post(client, report_body(site_key, idempotency_key=f"reader-{n:010d}", **fields))
    assert response.status_code in (200, 201), response.text
    return response.json["id"]


def report_page(client, report_id):
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 200
    return LexborHTMLParser(page.text)


def texts(tree, selector):
    return [" ".join(node.text().split()) for node in tree.css(selector)]


def test_identical_suggestions_are_counted_most_common_first(client, editor, site_key):
    suggested = ["principal keeper", "chief keeper", "principal  keeper ", "Principal keeper",
                 "chief keeper", "principal keeper", "", "principal\nkeeper"]
    report_id = [file(client, site_key, n, suggestion=text) for n, text in enumerate(suggested)][0]
    tree = report_page(client, report_id)
    # Whitespace does not tell suggestions apart; a capital letter does.
    assert texts(tree, ".suggested > li > .suggested-text") == ["principal keeper", "chief keeper", "Principal keeper"]
    assert texts(tree, ".suggested .readers") == ["×4", "×2", "×1"]
    assert tree.css_first(".suggested .readers").attributes["title"] == "4 readers"


def test_a_suggestion_is_shown_as_a_word_diff_inside_its_sentence(client, editor, site_key):
    report_id = file(client, site_key, 1, suggestion="principal keeper")
    first = report_page(client, report_id).css_first(".suggested > li .in-sentence")
    assert [node.text() for node in first.css("del")] == ["principle"]
    assert [node.text() for node in first.css("ins")] == ["principal"]
    # The sentence around it: from the sentence's start to its end, not the whole context.
    assert " ".join(first.text().split()) == "The principle principal keeper kept the accounts"


def test_a_hostile_suggestion_stays_escaped(client, editor, site_key):
    report_id = file(client, site_key, 1, suggestion="<img src=x onerror=alert(1)> keeper")
    page = client.get(f"/reports/{report_id}").text
    assert "<ins>&lt;img src=x onerror=alert(1)&gt;</ins>" in page
    assert "<img src=x" not in page


def test_submissions_are_numbered_from_the_first_reader_with_the_latest_shown(app, client, editor, site_key):
    report_id = file(client, site_key, 0, comment="reader 1")
    with app.app_context():
        report = db.session.get(Report, report_id)
        first = db.session.scalar(sa.select(Submission).where(Submission.report_id == report_id))
        db.session.add_all(Submission(report_id=report_id, site_id=report.site_id, idempotency_key=f"more-{n:04d}",
                                      comment=f"reader {n}", created_at=first.created_at + timedelta(minutes=n))
                           for n in range(2, 131))
        report.submission_count = 130
        db.session.commit()
    tree = report_page(client, report_id)
    items = tree.css("ol.submissions > li")
    assert [int(item.attributes["value"]) for item in items] == list(range(31, 131))
    assert [item.css_first(".comment span").text() for item in items[:2]] == ["reader 31", "reader 32"]
    assert items[-1].css_first(".comment span").text() == "reader 130"
    assert "Submissions (130)" in tree.css_first(".submissions-list h2").text()
    assert "Showing the latest 100" in tree.css_first(".submissions-list").text()


def test_a_few_submissions_are_all_shown_from_number_one(client, editor, site_key):
    report_id = [file(client, site_key, n, comment=f"reader {n + 1}") for n in range(3)][0]
    tree = report_page(client, report_id)
    assert [(item.attributes["value"], item.css_first(".comment span").text())
            for item in tree.css("ol.submissions > li")] == [("1", "reader 1"), ("2", "reader 2"), ("3", "reader 3")]
    assert "Showing the latest" not in tree.css_first(".submissions-list").text()


def test_duplicates_are_linked_both_ways(app, client, editor, site_key):
    original = file(client, site_key, 1, exact="principle keeper")
    copies = [file(client, site_key, 2 + n, exact=f"keeper number {n}") for n in range(2)]
    with app.app_context():
        by = db.session.get(Editor, editor)
        for copy in copies:
            db.session.get(Report, copy).close("duplicate", by=by, duplicate_of=original)
        db.session.commit()
    for copy in copies:
        link = report_page(client, copy).css_first(".duplicate-of a")
        assert link.attributes["href"] == f"/reports/{original}" and link.text() == f"Report #{original}"
    tree = report_page(client, original)
    assert [a.attributes["href"] for a in tree.css(".duplicates a")] == [f"/reports/{c}" for c in copies]
    assert tree.css_first(".duplicate-of") is None
    # The copy's timeline names the report it duplicates, linked.
    event = report_page(client, copies[0]).css_first(".timeline .event-duplicate_of")
    assert event.css_first("a").attributes["href"] == f"/reports/{original}"


def test_timeline_puts_the_first_report_and_every_event_in_order(app, client, editor, make_editor, site_key):
    other = make_editor("other@example.com", name="Olga Other")
    report_id = file(client, site_key, 1)
    with app.app_context():
        report, by = db.session.get(Report, report_id), db.session.get(Editor, editor)
        report.confirm(by=by)
        report.assign(db.session.get(Editor, other), by=by)
        report.add_note("Asked the <b>author</b>.", by=by)
        report.assign(None, by=by)
        db.session.commit()
    page = client.get(f"/reports/{report_id}")
    assert "Asked the &lt;b&gt;author&lt;/b&gt;." in page.text
    tree = LexborHTMLParser(page.text)
    expected = ["First reported by a reader", "Eddie Tor changed status from new to confirmed",
                "Eddie Tor assigned it to Olga Other", "Eddie Tor noted: Asked the <b>author</b>.",
                "Eddie Tor unassigned it (it was with Olga Other)"]
    lines = texts(tree, ".timeline > li")
    assert len(lines) == len(expected)
    for line, end in zip(lines, expected):
        assert line.endswith(end), (line, end)
    # Each line says when, for the machine too.
    times = [node.attributes["datetime"] for node in tree.css(".timeline > li > time")]
    assert len(times) == len(expected) and times == sorted(times)


def test_report_page_links_to_its_article_view(app, client, editor, site_key):
    report_id = file(client, site_key, 1, article_id="lighthouse-42")
    with app.app_context():
        report = db.session.get(Report, report_id)
        site_id, page_key = report.site_id, report.page_key
    tree = report_page(client, report_id)
    for link in (tree.css_first("a.article-view"), tree.css_first("a.article-id")):
        view = client.get(link.attributes["href"])
        assert view.status_code == 200 and f'href="/reports/{report_id}"' in view.text
    assert client.get(tree.css_first("a.article-view").attributes["href"]).request.args.to_dict() == {
        "site": str(site_id), "page": page_key}


def test_another_sites_report_is_404_for_an_editor_not_on_it(app, client, auth, make_editor, make_site, site_key):
    report_id = file(client, site_key, 1)
    make_site(name="Weekly", origins=["https://weekly.example.com"])
    with app.app_context():
        weekly_key = db.session.scalar(sa.text("SELECT key FROM site WHERE name = 'Weekly'"))
    make_editor("weekly@example.com", sites=[weekly_key])
    assert auth.login("weekly@example.com").status_code == 302
    assert client.get(f"/reports/{report_id}").status_code == 404
