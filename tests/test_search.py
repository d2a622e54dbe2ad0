"""Search through the dashboard list (``/reports?q=``): the databases' own full-text indexes,
kept current by migration 0009's triggers, read through the editors' query language."""

import re
from itertools import count

import pytest
import sqlalchemy as sa

from conftest import report_body, with_settings
from copydesk.db import db
from copydesk import search
from copydesk.models import Report, Site, Submission
from copydesk.search import BadQuery, Term, parse
from test_api import post

_keys = count(1)


@pytest.fixture
def logged_in(auth, make_editor):
    make_editor()
    assert auth.login().status_code == 302
    return auth


def send(client, site_key, **fields):
    """File one reader's send; the report's id."""
    body = report_body(site_key, idempotency_key=f"search-{next(_keys):08d}", **{"comment": "", "suggestion": "", **fields})
    return post(client, body).json["id"]


def found(client, q, **args):
    page = client.get("/reports", query_string={"status": "all", "q": q, **args})
    assert page.status_code == 200, page.text
    return {int(i) for i in re.findall(r'aria-label="Report #(\d+)"', page.text)}


@pytest.mark.parametrize("q", ["Ёлка", "ёлка", "ЁЛКА", "елка", "ЕЛКА", "Елка"])
def test_cyrillic_found_in_any_case_with_or_without_yo(client, logged_in, site_key, q):
    tree = send(client, site_key, exact="Ёлка в лесу")
    send(client, site_key, exact="Палка в лесу")
    assert found(client, q) == {tree}


@pytest.mark.parametrize("text, queries", [
    ("Café au lait", ["cafe", "CAFÉ", "café"]),
    ("Meeting in Zürich", ["zurich", "ZÜRICH", "Zurich"]),
    ("Łódź and Straße", ["lodz", "strasse", "STRASSE"]),
    ("Η Αθήνα είναι", ["αθηνα", "ΑΘΗΝΑ", "Αθήνα"]),
    ("İstanbul'da ılık hava", ["istanbul", "ISTANBUL", "ılık", "ilik"]),
    ("في الكِتابِ الأول", ["الكتاب", "الكِتاب"]),
])
def test_diacritics_and_case_ignored_in_every_script(client, logged_in, site_key, text, queries):
    wanted = send(client, site_key, exact=text)
    send(client, site_key, exact="nothing alike here")
    for q in queries:
        assert found(client, q) == {wanted}, q


def test_all_words_must_match_in_any_order_and_any_field(client, logged_in, site_key):
    both = send(client, site_key, exact="principle keeper", title="The Beacon")
    one = send(client, site_key, exact="principle only", title="Elsewhere")
    assert found(client, "beacon principle") == {both}
    assert found(client, "principle") == {both, one}


def test_phrases_match_words_side_by_side_also_across_selection_and_context(client, logged_in, site_key):
    wanted = send(client, site_key, prefix="The old ", exact="lighthouse keeper", suffix=" slept")
    send(client, site_key, prefix="", exact="keeper of the lighthouse", suffix="")
    assert found(client, '"lighthouse keeper"') == {wanted}
    assert found(client, '"old lighthouse keeper slept"') == {wanted}
    assert found(client, '"keeper lighthouse"') == set()
    # A quote left open runs to the end of the query.
    assert found(client, '"lighthouse keeper') == {wanted}


@pytest.mark.parametrize("few", [0, 1, 1000])
def test_the_same_reports_are_found_however_many_match(client, logged_in, site_key, monkeypatch, few):
    """PostgreSQL hands a search of at most FEW_MATCHES reports to the list as their ids and
    one of more as a subquery (``search.restrict``); each phrase's words are also conditions
    of their own. Whichever way, the same reports."""
    monkeypatch.setattr(search, "FEW_MATCHES", few)
    page = {"url": "https://daily.example.com/a", "canonical_url": "https://daily.example.com/a", "title": "Tides"}
    keeper = send(client, site_key, prefix="The old ", exact="harbour pilot", suffix=" slept",
                  comment="Seen in the lead", **page)
    other = send(client, site_key, prefix="", exact="pilot of the harbour", suffix="",
                 **{**page, "title": "Harbour news"})
    elk = send(client, site_key, prefix="", exact="Ёлочная игрушка", suffix="", article_author="Ann Lee", **page)
    assert found(client, "harbour") == {keeper, other}
    assert found(client, '"harbour pilot"') == {keeper}
    assert found(client, '"pilot harbour"') == set()
    assert found(client, 'pilot "the lead"') == {keeper}
    assert found(client, "title:harbour pilot") == {other}
    assert found(client, "ёлоч*") == found(client, "author:lee") == {elk}
    assert found(client, "harbour-pil*") == {keeper}  # one term: its words side by side, the last a prefix
    assert found(client, "zebra") == set()
    # A mark alone (here an acute accent) is no word: the phrase is its words on either side.
    assert found(client, '"harbour \u0301 pilot"') == {keeper}


def test_prefixes(client, logged_in, site_key):
    wanted = send(client, site_key, exact="Ёлочная игрушка")
    send(client, site_key, exact="другие слова")
    assert found(client, "ёлоч*") == {wanted}
    assert found(client, "ЕЛОЧ*") == {wanted}
    assert found(client, "ёлочк*") == set()


def test_field_filters(client, app, logged_in, site_key):
    politics = send(client, site_key, exact="the budget", title="Budget vote", article_author="Ann Lee",
                    article_section="Politics", url="https://daily.example.com/politics/budget")
    sport = send(client, site_key, exact="Lee scored", title="Match report", article_author="Bob Ray",
                 article_section="Sport", url="https://daily.example.com/sport/match")
    assert found(client, "author:lee") == {politics}
    assert found(client, "lee") == {politics, sport}
    assert found(client, "section:sport") == {sport}
    assert found(client, "url:politics") == {politics}
    assert found(client, "url:daily.example.com/sport") == {sport}
    assert found(client, 'title:"budget vote"') == {politics}
    assert found(client, "title:budget author:ray") == set()
    # Not a field: the words are searched side by side like any others.
    assert found(client, "nonsense:budget") == set()


def test_readers_comments_and_suggestions_are_found(client, logged_in, site_key):
    commented = send(client, site_key, exact="one", comment="Misspelt the mayor's name")
    suggested = send(client, site_key, exact="two", suggestion="Thessaloniki")
    assert found(client, "mayor") == {commented}
    assert found(client, "thessaloniki") == {suggested}
    # All words must match, in the report or in any of its readers' notes.
    assert found(client, "one mayor") == {commented}


def test_a_later_repeat_is_found_and_a_deleted_submission_is_not(client, app, logged_in, site_key):
    report_id = send(client, site_key, exact="teh", comment="first note")
    assert found(client, "lighthouse") == {report_id}  # the default title
    assert found(client, "walrus") == set()
    assert send(client, site_key, exact="teh", comment="a walrus said so") == report_id
    assert send(client, site_key, exact="teh", comment="a walrus said so") == report_id
    assert found(client, "walrus") == {report_id}
    with app.app_context():
        db.session.execute(sa.delete(Submission).where(Submission.comment == "a walrus said so"))
        db.session.commit()
    assert found(client, "walrus") == set()
    assert found(client, "first note") == {report_id}


def test_an_edited_report_is_found_by_its_new_words_and_a_deleted_one_not_at_all(client, app, logged_in, site_key):
    report_id = send(client, site_key, exact="teh", title="Old headline")
    with app.app_context():
        db.session.get(Report, report_id).title = "New headline"
        db.session.commit()
    assert found(client, "new headline") == {report_id}
    assert found(client, "old") == set()
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.key == site_key))
        site.remove()
        db.session.commit()
        assert db.session.scalar(sa.text("SELECT count(*) FROM report_search")) == 0


@pytest.mark.parametrize("q", ['" OR "', "NEAR(a b)", "a AND", "*", "^x", "col:x", "'; DROP TABLE report; --",
                               "a\x00b", "x" * 10_000, "ü" * 199, '"""', "a:b:c:d", "-x", "(((", "{title}: x",
                               "a* b* c* d*", "title:", "%_%", "\\"])
def test_hostile_queries_answer_a_page_never_a_server_error(client, logged_in, site_key, q):
    send(client, site_key, exact="a b x")
    page = client.get("/reports", query_string={"q": q})
    assert page.status_code in (200, 400), page.status_code


@pytest.mark.parametrize("q, message", [
    ("?!", "Search for at least one word"), ("\u064b \u0301", "Search for at least one word"),
    ("a*", "at least two letters before the *"),
    (" ".join(f"w{n}" for n in range(13)), "at most 12 words"),
])
def test_a_query_that_cannot_be_read_says_why(client, logged_in, site_key, q, message):
    page = client.get("/reports", query_string={"q": q})
    assert page.status_code == 400
    assert message in page.text


def test_parse_reads_words_phrases_prefixes_and_fields():
    assert parse('Ёлка "old keeper" stor* url:example.com/a author:"Ann Lee" foo:bar') == [
        Term(("Ёлка",)), Term(("old", "keeper")), Term(("stor",), prefix=True),
        Term(("example", "com", "a"), field="url"), Term(("Ann", "Lee"), field="author"),
        Term(("foo", "bar"))]
    with pytest.raises(BadQuery):
        parse("  ...  ")


def test_search_never_finds_another_sites_report_for_a_non_member(client, app, auth, make_editor, make_site):
    daily = make_site(name="Daily", origins=["https://daily.example.com"])
    weekly = make_site(name="Weekly", origins=["https://weekly.example.com"])
    ours = send(client, daily, exact="shared secret word")
    post(client, report_body(weekly, idempotency_key="weekly-0001", exact="shared secret word",
                             url="https://weekly.example.com/a", canonical_url=None),
         origin="https://weekly.example.com")
    make_editor(sites=[daily])
    assert auth.login().status_code == 302
    assert found(client, "secret") == {ours}
    assert found(client, '"shared secret"') == {ours}
    with app.app_context():
        weekly_id = db.session.scalar(sa.select(Site.id).where(Site.key == weekly))
    page = client.get("/reports", query_string={"status": "all", "q": "secret", "site": weekly_id})
    assert not re.findall(r'aria-label="Report #(\d+)"', page.text)


@with_settings(PAGE_SIZE=2)
def test_search_results_page_newest_first_both_ways_and_next_in_list(client, logged_in, site_key):
    """A search pages by the index's own order (SQLite: the FTS rowid): every match once,
    newest first, forwards and back, and "next in list" follows the same order."""
    ids = [send(client, site_key, exact=f"story number {n}") for n in range(5)]
    send(client, site_key, exact="an unrelated line")

    def page(**args):
        response = client.get("/reports", query_string={"status": "all", "q": "story", **args})
        assert response.status_code == 200
        shown = [int(i) for i in re.findall(r'aria-label="Report #(\d+)"', response.text)]
        older = re.search(r'rel="next" href="[^"]*after=(\d+)', response.text)
        newer = re.search(r'rel="prev" href="[^"]*before=(\d+)', response.text)
        return shown, older and older.group(1), newer and newer.group(1)

    first, after, _ = page()
    second, after2, before = page(after=after)
    third, none, before2 = page(after=after2)
    assert first + second + third == ids[::-1] and none is None
    assert page(before=before2)[0] == second and page(before=before)[0] == first

    nxt = client.get(f"/reports/{ids[3]}/next", query_string={"list": "status=all&q=story"})
    assert nxt.status_code == 302 and nxt.headers["Location"].split("?")[0].endswith(f"/reports/{ids[2]}")
