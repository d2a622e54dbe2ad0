"""The stats page: the numbers on a crafted desk, its SVG charts, its scoping to the
editor's sites, its parameters, and in Chromium without JavaScript, axe-core and a phone."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from copydesk import stats
from copydesk.db import db
from conftest import ORIGIN, report_body
from copydesk.models import Editor, Event, Report, Site, Submission, utcnow
from test_api import post
from widget_pages.helpers import AXE

SVG = "{http://www.w3.org/2000/svg}"
HOUR = timedelta(hours=1)


def filed(days_ago, hour=1):
    return datetime.combine(utcnow().date() - timedelta(days=days_ago), time(hour))


def add_report(site_id, created_at, status="new", resolution=None, page="/a", section="", author="", events=()):
    """A report filed at ``created_at`` with editor events ``(kind, to_value, after)``."""
    number = db.session.scalar(sa.select(sa.func.count()).select_from(Report)) + 1
    url = f"https://daily.example.com{page}"
    report = Report(site_id=site_id, anchor_key=f"{number:064x}", group_key=f"{number:064x}", page_url=url,
                    page_key=url, exact=f"mistake {number}", status=status, resolution=resolution,
                    article_section=section, article_author=author, created_at=created_at)
    db.session.add(report)
    db.session.flush()
    for kind, to_value, after, editor_id in events:
        db.session.add(Event(report_id=report.id, editor_id=editor_id, kind=kind, to_value=to_value,
                             created_at=created_at + after))
    return report


@pytest.fixture
def desk(app, make_site, make_editor):
    """Two sites, Daily and Weekly, an admin and an editor of Daily only, and reports with
    known times: Daily's first actions after 1, 2, 4 (and, 40 days ago, 8) hours."""
    daily, weekly = make_site("Daily"), make_site("Weekly", origins=["https://weekly.example.com"])
    admin = make_editor("admin@example.com", role="admin")
    make_editor("daily@example.com", sites=[daily])
    with app.app_context():
        ids = {site.key: site.id for site in db.session.scalars(sa.select(Site))}
        d, w = ids[daily], ids[weekly]
        add_report(d, filed(1), "new", page="/politics/1", section="Politics", author="Ann",
                   events=[("status", "new", HOUR / 2, None)])  # the desk's own event: no action
        add_report(d, filed(1), "confirmed", page="/politics/1", section="Politics", author="Bob",
                   events=[("note", None, HOUR, admin)])
        add_report(d, filed(2), "closed", "fixed", page="/sport/2", section="Sport", author="Ann",
                   events=[("status", "confirmed", 2 * HOUR, admin), ("status", "closed", 10 * HOUR, admin),
                           ("resolution", "fixed", 10 * HOUR, admin)])
        add_report(d, filed(2), "closed", "not_an_error", page="/sport/3",
                   events=[("status", "closed", 4 * HOUR, admin), ("resolution", "not_an_error", 4 * HOUR, admin)])
        add_report(d, filed(40), "closed", "spam", page="/old",
                   events=[("status", "closed", 8 * HOUR, admin), ("resolution", "spam", 8 * HOUR, admin)])
        add_report(w, filed(1), "new", page="/world/9", section="World", author="Cy")
        db.session.commit()
    return {"daily": d, "weekly": w}


def test_reports_per_day_count_each_status_and_fill_empty_days(app, desk):
    with app.app_context():
        days, closed = stats.reports_per_day(None, stats.first_day(30))
        assert len(days) == 30 and days[-1].day == utcnow().date()
        by_day = {day.day: day.counts for day in days}
        assert by_day[filed(1).date()] == {"new": 2, "confirmed": 1, "closed": 0}
        assert by_day[filed(2).date()] == {"new": 0, "confirmed": 0, "closed": 2}
        assert sum(day.total for day in days) == 5  # the spam, 40 days ago, is not in the period
        assert closed == {"fixed": 1, "not_an_error": 1}
        assert stats.reports_per_day([desk["weekly"]], stats.first_day(30))[0][-2].counts["new"] == 1


def test_shares_closed_as_not_an_error_and_spam(app, desk):
    with app.app_context():
        month, year = stats.compute_stats(None, 30), stats.compute_stats(None, 365)
    assert (month.share_closed("not_an_error"), month.share_closed("spam")) == (0.5, 0.0)
    assert year.closed_total == 3 and year.share_closed("spam") == pytest.approx(1 / 3)


def test_first_action_median_and_p90_count_only_editors_events(app, desk):
    with app.app_context():
        month = stats.time_to_first_action(None, stats.first_day(30))
        year = stats.time_to_first_action(None, stats.first_day(365))
    # 1, 2 and 4 hours: the median is the 2nd, the 90th percentile the 3rd (nearest rank).
    assert month.reports == 3
    assert month.percentiles == pytest.approx({50: 2 * 3600, 90: 4 * 3600}, abs=1)
    assert year.reports == 4 and year.percentiles == pytest.approx({50: 2 * 3600, 90: 8 * 3600}, abs=1)


def test_durations_count_only_the_periods_latest_reports(app, desk, monkeypatch):
    monkeypatch.setattr(stats, "LATEST", 2)
    with app.app_context():
        latest = stats.time_to_first_action([desk["daily"]], stats.first_day(30))
    # Daily's two reports of yesterday: one an editor acted on after an hour, one only the desk.
    assert latest.reports == 1 and latest.percentiles == pytest.approx({50: 3600, 90: 3600}, abs=1)


def test_time_to_fixed_percentiles_over_ten_reports(app, desk, make_editor):
    admin = make_editor("fixer@example.com", role="admin")
    with app.app_context():
        for hours in (7, 3, 10, 1, 5, 9, 2, 8, 6, 4):
            add_report(desk["weekly"], filed(3), "closed", "fixed", page=f"/fixed/{hours}", events=[
                ("status", "closed", hours * HOUR, admin), ("resolution", "fixed", hours * HOUR, admin)])
        db.session.commit()
        weekly = stats.time_to_fixed([desk["weekly"]], stats.first_day(30))
        daily = stats.time_to_fixed([desk["daily"]], stats.first_day(30))
    assert weekly.reports == 10
    assert weekly.percentiles == pytest.approx({50: 5 * 3600, 90: 9 * 3600}, abs=1)
    assert daily.reports == 1 and daily.percentiles == pytest.approx({50: 10 * 3600, 90: 10 * 3600}, abs=1)


def test_open_reports_by_site_section_author_and_top_pages(app, desk):
    with app.app_context():
        open_now = stats.open_reports(None)
        pages = stats.top_pages(None)
        daily_only = stats.open_reports([desk["daily"]])
    assert open_now.by_site == [("Daily", 2), ("Weekly", 1)]
    assert open_now.by_section == [("Politics", 2), ("World", 1)]
    assert open_now.by_author == [("Ann", 1), ("Bob", 1), ("Cy", 1)]
    assert [(page.url, page.reports) for page in pages] == [
        ("https://daily.example.com/politics/1", 2), ("https://daily.example.com/world/9", 1)]
    assert daily_only.by_site == [("Daily", 2)] and ("World", 1) not in daily_only.by_section


def charts(html):
    """Every chart's SVG, parsed (ElementTree refuses anything not well-formed)."""
    found = re.findall(r'<svg class="chart-svg.*?</svg>', html, re.S)
    return [ET.fromstring(svg) for svg in found]


def data_cells(html, chart_id):
    """{row header: [cells]} of a chart's data table."""
    figure = re.search(rf'<figure class="chart" id="{chart_id}">(.*?)</figure>', html, re.S).group(1)
    table = re.search(r"<tbody>(.*?)</tbody>", figure, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        header = re.sub(r"<[^>]+>", "", re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1))
        rows[header] = [int(cell) for cell in re.findall(r'<td class="num"[^>]*>(\d+)</td>', row)]
    return rows


def test_page_draws_well_formed_titled_charts_with_their_figures(client, auth, desk):
    auth.login("admin@example.com")
    response = client.get("/stats")
    assert response.status_code == 200 and response.content_type.startswith("text/html")
    html = response.text
    svgs = charts(html)
    assert len(svgs) == 5
    for svg in svgs:
        assert svg.get("role") == "img"
        title_id, desc_id = svg.get("aria-labelledby").split()
        assert svg.find(f"{SVG}title").get("id") == title_id and svg.find(f"{SVG}title").text.strip()
        assert svg.find(f"{SVG}desc").get("id") == desc_id
        assert svg.get("style") is None and not svg.findall(".//*[@style]")
    daily_bars = {bar.get("class"): bar.get("d") for bar in svgs[0].findall(f"{SVG}path")}
    assert sorted(daily_bars) == ["bar status-closed", "bar status-confirmed", "bar status-new"]
    # One rectangle per day a status had reports: new and confirmed yesterday, closed the day before.
    assert [d.count("M") for d in daily_bars.values()] == [1, 1, 1]
    assert all(re.fullmatch(r"(M[\d.]+ [\d.]+h[\d.]+v[\d.]+h-[\d.]+z)+", d) for d in daily_bars.values())
    assert data_cells(html, "chart-per-day")[filed(1).date().isoformat()] == [2, 1, 0, 3]
    assert data_cells(html, "chart-sites") == {"Daily": [2], "Weekly": [1]}
    assert data_cells(html, "chart-pages")["https://daily.example.com/politics/1"] == [2]
    assert "median 2 hours, 90th percentile 4 hours" in html
    assert "50% (1 of 2 closed reports filed in the period)" in html
    assert " style=" not in html


def test_an_editor_sees_only_their_sites_numbers(client, auth, desk):
    auth.login("daily@example.com")
    html = client.get("/stats").text
    assert "Weekly" not in html and "Cy" not in html and "/world/9" not in html
    assert data_cells(html, "chart-sites") == {"Daily": [2]}
    assert data_cells(html, "chart-per-day")[filed(1).date().isoformat()] == [1, 1, 0, 2]
    assert client.get(f"/stats?site={desk['weekly']}").status_code == 404
    assert data_cells(client.get(f"/stats?site={desk['daily']}&days=365").text, "chart-sites") == {"Daily": [2]}


@pytest.mark.parametrize("query", ["days=7", "days=abc", "days=", "site=x", "site=-1", "site=0", "site=²",
                                   "site=99999999999999999999", "days=30&site=1.5"])
def test_bad_parameters_are_a_400(client, auth, desk, query):
    auth.login("admin@example.com")
    response = client.get(f"/stats?{query}")
    assert response.status_code == 400
    assert "A period is 30, 90 or 365 days." in response.text or "A site is chosen by its number." in response.text


def test_an_empty_desk_renders(client, auth, make_editor):
    make_editor("admin@example.com", role="admin")
    auth.login("admin@example.com")
    for days in (30, 90, 365):
        response = client.get(f"/stats?days={days}")
        assert response.status_code == 200
        assert len(charts(response.text)) == 1  # the days' axis; every other chart says there is nothing
        assert "no reports yet" in response.text and "Nothing to show for this period." in response.text


def test_figures_are_kept_for_a_minute(app, client, auth, desk):
    auth.login("admin@example.com")
    assert data_cells(client.get("/stats").text, "chart-sites")["Weekly"] == [1]
    with app.app_context():
        add_report(desk["weekly"], filed(0), "new", page="/world/10")
        db.session.commit()
    assert data_cells(client.get("/stats").text, "chart-sites")["Weekly"] == [1]
    with app.app_context():
        stats.forget_stats()
    assert data_cells(client.get("/stats").text, "chart-sites")["Weekly"] == [2]


def rollup():
    """Migration 0011's reports per day (kept by triggers)."""
    rows = db.session.execute(sa.text("SELECT site_id, day, status, resolution, reports FROM report_day"))
    return {(site, str(day), status, resolution): n for site, day, status, resolution, n in rows}


def rollups():
    """Migration 0011's rollups: reports per day, open reports per page and per section and author."""
    pages = db.session.execute(sa.text("SELECT site_id, page_key, reports FROM report_open_page"))
    by = db.session.execute(sa.text("SELECT site_id, article_section, article_author, reports FROM report_open_by"))
    return rollup(), {tuple(row[:2]): row[2] for row in pages}, {tuple(row[:3]): row[3] for row in by}


def counted():
    """The same figures counted from the reports themselves."""
    day = sa.func.date(Report.created_at)
    rows = db.session.execute(sa.select(Report.site_id, day, Report.status, Report.resolution, sa.func.count())
                              .group_by(Report.site_id, day, Report.status, Report.resolution))
    by_day = {(site, str(day), status, resolution or ""): n for site, day, status, resolution, n in rows}

    def open_by(*columns):
        return {tuple(row[:-1]): row[-1] for row in db.session.execute(
            sa.select(*columns, sa.func.count()).where(Report.status.in_(stats.OPEN)).group_by(*columns))}
    return (by_day, open_by(Report.site_id, Report.page_key),
            open_by(Report.site_id, Report.article_section, Report.article_author))


def test_rollup_follows_intake_triage_reopen_delete_erase_and_site_removal(app, client, desk, make_site):
    site_key = make_site("Gazette", origins=[ORIGIN])
    ids = [post(client, report_body(site_key, idempotency_key=f"stats-{n:08d}", exact=f"teh {n}")).json["id"]
           for n in range(3)]
    post(client, report_body(site_key, idempotency_key="stats-repeat01", exact="teh 0"))  # a repeat: no report
    with app.app_context():
        assert rollups() == counted() and sum(rollup().values()) == 9
        admin = db.session.scalar(sa.select(Editor).where(Editor.email == "admin@example.com"))
        first, second, third = (db.session.get(Report, i) for i in ids)
        first.confirm(admin)
        second.close("spam", admin)
        third.close("fixed", admin)
        db.session.commit()
        assert rollups() == counted()
        site = first.site_id
        today = str(utcnow().date())
        assert rollup()[(site, today, "closed", "spam")] == 1
        second.reopen(admin)
        db.session.commit()
        assert rollups() == counted() and (site, today, "closed", "spam") not in rollup()
        third.delete(admin)
        db.session.commit()
        assert rollups() == counted() and (site, today, "closed", "fixed") not in rollup()
        submission = db.session.scalar(sa.select(Submission).where(Submission.report_id == ids[1]))
        submission.erase(admin)  # its last submission: the report goes too
        db.session.commit()
        assert db.session.get(Report, ids[1]) is None and rollups() == counted()
        db.session.get(Site, site).remove()
        db.session.commit()
        assert rollups() == counted() and not any(key[0] == site for key in rollup())
        assert sum(rollup().values()) == 6  # the desk's reports


def test_rollup_moves_a_report_whose_day_site_page_section_or_author_changes(app, desk):
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.site_id == desk["weekly"]))
        report.created_at = filed(5)
        report.site_id = desk["daily"]
        db.session.commit()
        assert rollups() == counted()
        assert rollup()[(desk["daily"], str(filed(5).date()), "new", "")] == 1
        report.page_key, report.article_section, report.article_author = "https://daily.example.com/x", "Arts", "Di"
        db.session.commit()
        assert rollups() == counted()
        assert rollups()[2][(desk["daily"], "Arts", "Di")] == 1


def test_upgrade_to_the_rollup_counts_the_reports_already_there(app, desk):
    from flask_migrate import downgrade, upgrade
    with app.app_context():
        downgrade(revision="0010")
        assert "report_day" not in sa.inspect(db.engine).get_table_names()
        db.session.execute(sa.text("UPDATE report SET status = 'closed', resolution = 'fixed' WHERE status = 'new'"))
        db.session.commit()
        upgrade()
        assert rollups() == counted() and sum(rollup().values()) == 6
        assert rollup()[(desk["weekly"], str(filed(1).date()), "closed", "fixed")] == 1


def log_in(page, base_url):
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/reports"))


@pytest.mark.slow
def test_page_works_without_javascript_passes_axe_and_fits_a_phone(new_context, live_server, desk):
    page = new_context(java_script_enabled=False, viewport={"width": 360, "height": 740}).new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + "/stats?days=365")
    expect(page.get_by_role("img", name=re.compile("Reports filed per day"))).to_be_visible()
    page.get_by_label("Period", exact=True).select_option("90")
    page.get_by_role("button", name="Show").click()  # a plain GET form: no script needed
    assert page.url.endswith("days=90")
    expect(page.get_by_role("img", name="Open reports by site")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    if not AXE.exists():
        pytest.skip("needs `npm ci` in widget/ for axe-core")
    # axe itself is an inline script: this context alone lets it past the CSP.
    checked = new_context(viewport={"width": 360, "height": 740}, bypass_csp=True).new_page()
    log_in(checked, live_server.url)
    checked.goto(live_server.url + "/stats?days=90")
    checked.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert checked.evaluate("document.documentElement.scrollWidth") <= 360  # the tables too
    checked.add_script_tag(content=AXE.read_text())
    violations = checked.evaluate("""async () => (await axe.run(document)).violations
        .map(v => ({id: v.id, nodes: v.nodes.map(n => n.target)}))""")
    assert violations == [], json.dumps(violations, indent=1)
