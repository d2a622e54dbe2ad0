"""The article view (every report on one page or article, counts per status) and the pages
ordered by open reports: order, paging, bad input, and what each editor may see."""

import pytest
from selectolax.lexbor import LexborHTMLParser

from conftest import ORIGIN, report_body, with_settings
from copydesk.dashboard import articles
from copydesk.db import db
from copydesk.models import Report
from test_api import post

STATUSES = {"new": ("new", None), "confirmed": ("confirmed", None), "fixed": ("closed", "fixed"),
            "spam": ("closed", "spam"), "not_an_error": ("closed", "not_an_error")}


@pytest.fixture
def editor(auth, make_editor):
    editor_id = make_editor()
    assert auth.login().status_code == 302
    return editor_id


@pytest.fixture(autouse=True)
def fresh_ranking(monkeypatch):
    """Each request ranks the pages anew (the list is remembered for seconds otherwise)."""
    monkeypatch.setattr(articles, "PAGES_SECONDS", 0)


def file(app, client, site_key, path, state="new", n=[0], origin=ORIGIN, **fields):
    """A report on ``path`` in ``state`` (a key of STATUSES); answers (id, site id, page key)."""
    n[0] += 1
    body = report_body(site_key, idempotency_key=f"article-{n[0]:08d}", url=origin + path, canonical_url=None,
                       exact=f"mistake {n[0]}", **fields)
    response = post(client, body, origin=origin)
    assert response.status_code == 201, response.text
    with app.app_context():
        report = db.session.get(Report, response.json["id"])
        report.status, report.resolution = STATUSES[state]
        db.session.commit()
        return report.id, report.site_id, report.page_key


def parse(response):
    assert response.status_code == 200, response.text[:300]
    return LexborHTMLParser(response.text)


def report_links(tree):
    return [a.attributes["href"] for a in tree.css("table.article-reports a[aria-label]")]


def test_article_view_counts_each_status_and_lists_open_reports_first(app, client, editor, site_key):
    states = ["fixed", "new", "confirmed", "spam", "new", "not_an_error"]
    filed = [file(app, client, site_key, "/story", state) for state in states]
    elsewhere, *_ = file(app, client, site_key, "/another-story", "new")
    ids = {state: [f[0] for f, s in zip(filed, states) if s == state] for state in states}
    _id, site_id, page_key = filed[0]
    tree = parse(client.get("/article", query_string={"site": site_id, "page": page_key}))
    counts = {node.attributes["class"]: node.text() for node in tree.css(".counts dd")}
    assert counts == {"count-new": "2", "count-confirmed": "1", "count-closed-fixed": "1",
                      "count-closed-not_an_error": "1", "count-closed-spam": "1", "count-closed-duplicate": "0"}
    assert "6 reports" in tree.css_first(".status-counts h2").text()
    # New, confirmed, then closed; newest first within each; another page's report not among them.
    expected = sorted(ids["new"], reverse=True) + ids["confirmed"] + sorted(
        ids["fixed"] + ids["spam"] + ids["not_an_error"], reverse=True)
    assert report_links(tree) == [f"/reports/{report_id}" for report_id in expected]
    assert elsewhere not in expected
    # Each report carries its actions.
    assert len(tree.css("table.article-reports .report-actions")) == 6


def test_article_view_by_article_id_gathers_every_address_of_the_article(app, client, editor, site_key):
    first = file(app, client, site_key, "/story?page=1", article_id="story-42")
    second = file(app, client, site_key, "/story?page=2", article_id="story-42")
    file(app, client, site_key, "/other", article_id="story-43")
    tree = parse(client.get("/article", query_string={"site": first[1], "article_id": "story-42"}))
    assert report_links(tree) == [f"/reports/{second[0]}", f"/reports/{first[0]}"]
    assert tree.css_first("dd.article-id").text() == "story-42"


@with_settings(PAGE_SIZE=2)
def test_article_view_pages_through_every_report_once(app, client, editor, site_key):
    states = ["new", "closed", "new", "confirmed", "new", "spam", "confirmed"]
    filed = [file(app, client, site_key, "/story", "fixed" if s == "closed" else s) for s in states]
    _id, site_id, page_key = filed[0]
    seen, url = [], "/article"
    args = {"site": site_id, "page": page_key}
    while True:
        tree = parse(client.get(url, query_string=args))
        seen += report_links(tree)
        more = tree.css_first('.pager a[rel="next"]')
        if more is None:
            break
        url, args = more.attributes["href"], None
    order = {"new": 0, "confirmed": 1, "closed": 2, "fixed": 2, "spam": 2}
    expected = sorted(filed, key=lambda f: (order[states[filed.index(f)]], -f[0]))
    assert seen == [f"/reports/{report_id}" for report_id, *_ in expected]


@pytest.mark.parametrize("query, says", [
    ({}, "Name a site and either a page or an article id."),
    ({"site": "1"}, "Name a site and either a page or an article id."),
    ({"site": "1", "page": "p", "article_id": "a"}, "Name a site and either a page or an article id."),
    ({"site": "x", "page": "p"}, "“site” must be a whole number"),
    ({"site": "-1", "page": "p"}, "“site” must be a whole number"),
    ({"site": "١", "page": "p"}, "“site” must be a whole number"),
    ({"site": "99999999999", "page": "p"}, "“site” must be a whole number"),
    ({"site": "1", "page": "a\x00b"}, "“page” is not a page or article"),
    ({"site": "1", "page": "p" * 5000}, "“page” is not a page or article"),
    ({"site": "1", "article_id": "a" * 201}, "“article_id” is not a page or article"),
    ({"site": "1", "page": "p", "after": "bogus"}, "This page of reports does not exist"),
    ({"site": "1", "page": "p", "after": "new:99999999999"}, "This page of reports does not exist"),
])
def test_bad_article_view_arguments_are_a_clear_400(app, client, editor, site_key, query, says):
    file(app, client, site_key, "/story")
    response = client.get("/article", query_string=query)
    assert response.status_code == 400
    assert says in response.text


def test_a_page_without_reports_is_404(app, client, editor, site_key):
    _id, site_id, _page = file(app, client, site_key, "/story")
    assert client.get("/article", query_string={"site": site_id, "page": "https://nowhere.example/"}).status_code == 404
    assert client.get("/article", query_string={"site": site_id + 1, "page": "p"}).status_code == 404


def test_pages_are_ordered_by_open_reports(app, client, editor, site_key):
    for state in ("new", "fixed", "fixed", "fixed"):
        file(app, client, site_key, "/one-open", state)
    for state in ("new", "confirmed", "new", "spam"):
        file(app, client, site_key, "/three-open", state)
    for state in ("new", "confirmed"):
        file(app, client, site_key, "/two-open", state)
    file(app, client, site_key, "/all-closed", "fixed")
    tree = parse(client.get("/articles"))
    rows = [(row.css_first(".page-url").text(), row.css_first(".open-reports").text())
            for row in tree.css("table.articles tbody tr")]
    assert rows == [(ORIGIN + "/three-open", "3"), (ORIGIN + "/two-open", "2"), (ORIGIN + "/one-open", "1")]
    first = tree.css_first("table.articles tbody tr .page a").attributes["href"]
    assert report_links(parse(client.get(first)))[0].startswith("/reports/")


@with_settings(PAGE_SIZE=2)
def test_pages_list_pages_by_offset(app, client, editor, site_key):
    for n in range(5):
        for _ in range(n + 1):
            file(app, client, site_key, f"/story-{n}")
    seen, url = [], "/articles"
    while url:
        tree = parse(client.get(url))
        seen += [node.text() for node in tree.css(".open-reports")]
        more = tree.css_first('.pager a[rel="next"]')
        url = more.attributes["href"] if more else None
    assert seen == ["5", "4", "3", "2", "1"]
    assert client.get("/articles?start=-1").status_code == 400
    assert client.get("/articles?start=99999999").status_code == 400


def test_the_ranking_is_remembered_for_a_few_seconds(app, client, editor, site_key, monkeypatch):
    monkeypatch.setattr(articles, "PAGES_SECONDS", 60)
    file(app, client, site_key, "/story")
    assert len(parse(client.get("/articles")).css("table.articles tbody tr")) == 1
    file(app, client, site_key, "/another-story")
    assert len(parse(client.get("/articles")).css("table.articles tbody tr")) == 1
    monkeypatch.setattr(articles, "PAGES_SECONDS", 0)
    app.extensions.pop("copydesk.ranked_pages")
    assert len(parse(client.get("/articles")).css("table.articles tbody tr")) == 2


def test_an_editor_sees_only_their_sites_pages(app, client, auth, make_editor, make_site, site_key):
    weekly = make_site(name="Weekly", origins=["https://weekly.example.com"])
    daily_report = file(app, client, site_key, "/daily-story")
    weekly_report = file(app, client, weekly, "/weekly-story", origin="https://weekly.example.com")
    make_editor("weekly@example.com", sites=[weekly])
    assert auth.login("weekly@example.com").status_code == 302
    tree = parse(client.get("/articles"))
    assert [node.text() for node in tree.css(".page-url")] == ["https://weekly.example.com/weekly-story"]
    assert [node.text() for node in tree.css('select[name="site"] option')][1:] == ["Weekly"]
    _id, daily_site, daily_page = daily_report
    assert client.get("/articles", query_string={"site": daily_site}).status_code == 404
    assert client.get("/article", query_string={"site": daily_site, "page": daily_page}).status_code == 404
    assert client.get("/article", query_string={"site": weekly_report[1], "page": weekly_report[2]}).status_code == 200


def test_hostile_titles_and_addresses_stay_escaped(app, client, editor, site_key):
    hostile = '<script>window.__xss=1</script>"><img src=x onerror=alert(1)>'
    _id, site_id, page_key = file(app, client, site_key, "/story?q=%3Cb%3E", title=hostile, article_id=hostile)
    for response in (client.get("/articles"), client.get("/article", query_string={"site": site_id, "page": page_key}),
                     client.get("/article", query_string={"site": site_id, "article_id": hostile})):
        assert response.status_code == 200
        assert "<script>window.__xss" not in response.text and "<img src=x" not in response.text
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in response.text


def test_the_same_address_on_two_sites_is_two_pages(app, client, editor, make_site, site_key):
    other = make_site(name="Syndicated", origins=[ORIGIN])
    daily = file(app, client, site_key, "/story")
    syndicated = file(app, client, other, "/story")
    assert daily[2] == syndicated[2] and daily[1] != syndicated[1]
    tree = parse(client.get("/article", query_string={"site": daily[1], "page": daily[2]}))
    assert report_links(tree) == [f"/reports/{daily[0]}"]
    rows = parse(client.get("/articles")).css("table.articles tbody tr")
    assert sorted(row.css_first(".site").text() for row in rows) == ["Daily", "Syndicated"]
