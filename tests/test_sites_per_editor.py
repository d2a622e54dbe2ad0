"""Sites per editor: an editor sees and acts only on the sites they belong to, admins on
all; admins set each editor's sites on the Editors page and with the CLI.

Every route's answer to an editor of another site is in test_dashboard_access.py; here
the lists, counts, membership forms, notifications and the CLI."""

import re

import pytest
import sqlalchemy as sa

from conftest import AuthActions, csrf_token, rows
from copydesk.db import db
from copydesk.models import AuditEntry, Editor, Report, Site, editor_site
from copydesk.notify.models import Rule
from copydesk.notify.rules import recipients_for

PASSWORD = "a long enough password"


def add_report(app, site_key, title, status="new"):
    """A report on the site with this key, stored directly: these tests are about who sees it."""
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.key == site_key))
        page = f"https://{site.name.lower()}.example.com/{title.lower().replace(' ', '-')}"
        report = Report(site_id=site.id, anchor_key=title[:64].ljust(64, "k"), group_key=title[:64].ljust(64, "g"),
                        page_url=page, page_key=page, exact="teh", title=title, status=status)
        db.session.add(report)
        db.session.commit()
        return report.id


@pytest.fixture
def two_sites(app, make_site, make_editor):
    """Sites Daily and Weekly with a report each; a Daily editor, a Weekly editor, an admin."""
    daily = make_site(name="Daily", origins=["https://daily.example.com"])
    weekly = make_site(name="Weekly", origins=["https://weekly.example.com"])
    make_editor("daily@example.com", PASSWORD, sites=[daily])
    make_editor("weekly@example.com", PASSWORD, sites=[weekly])
    make_editor("admin@example.com", PASSWORD, role="admin", sites=[])
    return {"daily": daily, "weekly": weekly,
            "daily_report": add_report(app, daily, "Daily lighthouse story"),
            "weekly_report": add_report(app, weekly, "Weekly harbour story", status="confirmed")}


def logged_in(app, email):
    auth = AuthActions(app.test_client())
    assert auth.login(email, PASSWORD).status_code == 302
    return auth._client


def nav_counts(page):
    return {status: int(count) for status, count in re.findall(r'data-status="(\w+)">(\d+)<', page.text)}


def test_an_editor_lists_and_counts_only_their_sites_reports(app, two_sites):
    page = logged_in(app, "daily@example.com").get("/reports?status=all")
    assert "Daily lighthouse story" in page.text
    assert "Weekly harbour story" not in page.text and "Weekly" not in page.text
    assert nav_counts(page) == {"new": 1, "confirmed": 0, "closed": 0}


def test_navigation_counts_are_kept_per_set_of_sites_not_shared_with_admins(app, two_sites):
    # The admin's count is cached first: the editor must not be shown it within the cache's seconds.
    assert nav_counts(logged_in(app, "admin@example.com").get("/account")) == {"new": 1, "confirmed": 1, "closed": 0}
    assert nav_counts(logged_in(app, "weekly@example.com").get("/account")) == {"new": 0, "confirmed": 1, "closed": 0}
    assert nav_counts(logged_in(app, "daily@example.com").get("/account")) == {"new": 1, "confirmed": 0, "closed": 0}


def test_another_sites_report_is_not_found_and_cannot_be_acted_on(app, two_sites):
    client = logged_in(app, "daily@example.com")
    weekly_report = two_sites["weekly_report"]
    assert client.get(f"/reports/{weekly_report}").status_code == 404
    token = csrf_token(client.get("/account").text)
    response = client.post(f"/reports/{weekly_report}/action", data={"csrf_token": token, "action": "close",
                                                                      "resolution": "fixed"})
    assert response.status_code == 404
    assert rows(app, sa.select(Report.status).where(Report.id == weekly_report)) == [("confirmed",)]


def test_account_offers_notification_choices_for_own_sites_only(app, two_sites):
    page = logged_in(app, "daily@example.com").get("/account")
    assert "Daily" in page.text and "Weekly" not in page.text


def test_admin_sets_an_editors_sites_with_the_check_boxes(app, two_sites):
    client = logged_in(app, "admin@example.com")
    page = client.get("/editors")
    [daily_id, weekly_id] = [site_id for (site_id,) in rows(app, sa.select(Site.id).order_by(Site.name))]
    editor_id = rows(app, sa.select(Editor.id).where(Editor.email == "daily@example.com"))[0][0]
    assert re.search(rf'name="site" value="{daily_id}" checked', page.text)
    response = client.post(f"/editors/{editor_id}/sites", data={"csrf_token": csrf_token(page.text),
                                                                "site": [str(daily_id), str(weekly_id)]},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "daily@example.com now belongs to: Daily, Weekly." in response.text
    assert sorted(rows(app, sa.select(editor_site.c.site_id).where(editor_site.c.editor_id == editor_id))) == [
        (daily_id,), (weekly_id,)]
    # And now they see the Weekly report.
    assert "Weekly harbour story" in logged_in(app, "daily@example.com").get("/reports?status=all").text
    # Unticking every box takes them off every site.
    client.post(f"/editors/{editor_id}/sites", data={"csrf_token": csrf_token(page.text)})
    assert rows(app, sa.select(editor_site.c.site_id).where(editor_site.c.editor_id == editor_id)) == []


@pytest.mark.parametrize("site", ["not-a-number", "999999", "-1", "9" * 30, "²", "٣", "0"])
def test_a_site_that_does_not_exist_is_refused_clearly(app, two_sites, site):
    client = logged_in(app, "admin@example.com")
    token = csrf_token(client.get("/editors").text)
    editor_id = rows(app, sa.select(Editor.id).where(Editor.email == "daily@example.com"))[0][0]
    response = client.post(f"/editors/{editor_id}/sites", data={"csrf_token": token, "site": site})
    assert response.status_code == 400
    assert "Choose sites from the list." in response.text or "no longer exists" in response.text
    assert len(rows(app, sa.select(editor_site).where(editor_site.c.editor_id == editor_id))) == 1


def test_a_refused_new_editor_form_keeps_its_ticked_sites_and_drops_nonsense(app, two_sites):
    client = logged_in(app, "admin@example.com")
    token = csrf_token(client.get("/editors").text)
    [daily_id] = rows(app, sa.select(Site.id).where(Site.name == "Daily"))[0]
    response = client.post("/editors", data={"csrf_token": token, "email": "not an address", "name": "New",
                                             "role": "editor", "site": [str(daily_id), "²"]})
    assert response.status_code == 400
    assert re.search(rf'value="{daily_id}" checked', response.text)
    assert "Choose sites from the list." in response.text or "email" in response.text


def test_a_new_editor_belongs_to_the_sites_ticked(app, two_sites):
    client = logged_in(app, "admin@example.com")
    token = csrf_token(client.get("/editors").text)
    weekly_id = rows(app, sa.select(Site.id).where(Site.name == "Weekly"))[0][0]
    response = client.post("/editors", data={"csrf_token": token, "email": "new@example.com", "name": "New",
                                             "role": "editor", "site": str(weekly_id)})
    assert response.status_code == 201
    with app.app_context():
        editor = Editor.find("new@example.com")
        assert [site.name for site in editor.sites] == ["Weekly"]
    # A bad site keeps the form, with the boxes as ticked, and adds nobody.
    refused = client.post("/editors", data={"csrf_token": token, "email": "other@example.com",
                                            "site": [str(weekly_id), "424242"]})
    assert refused.status_code == 400 and "no longer exists" in refused.text
    assert re.search(rf'name="site" value="{weekly_id}" checked', refused.text.split("Add an editor")[1])
    assert rows(app, sa.select(Editor).where(Editor.email == "other@example.com")) == []


def test_a_new_site_gets_no_editors_until_an_admin_adds_them(app, two_sites):
    client = logged_in(app, "admin@example.com")
    token = csrf_token(client.get("/sites").text)
    response = client.post("/sites", data={"csrf_token": token, "name": "Monthly",
                                           "origins": "https://monthly.example.com", "language": "en"})
    assert response.status_code == 302
    monthly = rows(app, sa.select(Site.id).where(Site.name == "Monthly"))[0][0]
    assert rows(app, sa.select(editor_site).where(editor_site.c.site_id == monthly)) == []
    assert "0 editors" in client.get("/sites").text


def test_editors_hear_only_about_reports_on_their_sites(app, two_sites):
    """A site's default rule ("everyone") reaches its members and the admins, nobody else."""
    with app.app_context():
        for site in db.session.scalars(sa.select(Site)):
            db.session.add_all(Rule.for_new_site(site))
        db.session.commit()
        daily = db.session.get(Report, two_sites["daily_report"])
        weekly = db.session.get(Report, two_sites["weekly_report"])
        assert sorted(r.address for r in recipients_for(daily)) == ["admin@example.com", "daily@example.com"]
        assert sorted(r.address for r in recipients_for(weekly)) == ["admin@example.com", "weekly@example.com"]


def test_cli_adds_an_editor_to_sites_by_name_or_key(app, runner, two_sites):
    result = runner.invoke(args=["editors", "add", "ed@example.com", "--site", "Daily",
                                 "--site", two_sites["weekly"]], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Sites: Daily, Weekly." in result.output
    with app.app_context():
        assert [site.name for site in Editor.find("ed@example.com").sites] == ["Daily", "Weekly"]


def test_cli_refuses_a_site_that_does_not_exist_and_adds_nobody(app, runner, two_sites):
    result = runner.invoke(args=["editors", "add", "ed@example.com", "--site", "Nowhere"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 2
    assert "No site has the key or name 'Nowhere'." in result.output
    assert rows(app, sa.select(Editor).where(Editor.email == "ed@example.com")) == []


def test_cli_changes_and_shows_an_editors_sites(app, runner, two_sites):
    changed = runner.invoke(args=["editors", "sites", "daily@example.com", "--add", "Weekly", "--remove", "Daily"])
    assert changed.exit_code == 0, changed.output
    assert changed.output == "daily@example.com: Weekly\n"
    assert runner.invoke(args=["editors", "sites", "daily@example.com"]).output == "daily@example.com: Weekly\n"
    both = runner.invoke(args=["editors", "sites", "daily@example.com", "--add", "Daily", "--remove", "Daily"])
    assert both.exit_code == 2 and "both added and removed" in both.output
    listed = runner.invoke(args=["editors", "list"]).output.splitlines()
    assert "daily@example.com\teditor\tactive\tEddie Tor\tWeekly" in listed
    assert "admin@example.com\tadmin\tactive\tEddie Tor\tall sites (admin)" in listed
    # Audited as the CLI's, with what changed.
    [(by, detail)] = rows(app, sa.select(AuditEntry.editor_id, AuditEntry.detail_json).where(
        AuditEntry.action == "editor_sites_changed"))
    assert by is None and detail == '{"added": ["Weekly"], "removed": ["Daily"], "via": "cli"}'


def test_demo_editor_belongs_to_the_demo_site_should_they_become_a_plain_editor(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        editor = Editor.find("editor@demo.copydesk")
        assert [site.name for site in editor.sites] == ["Copydesk demo"]
