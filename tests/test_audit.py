"""The desk's audit trail: logins, and every admin change to sites, editors and
notification rules (in the dashboard and with the CLI), on an admin-only Audit page."""

import json
import re

import pytest
import sqlalchemy as sa

from conftest import AuthActions, rows, with_settings
from copydesk.audit import record
from copydesk.db import db
from copydesk.models import AuditEntry, Editor, Site
from copydesk.notify.models import Rule

PASSWORD = "a long enough password"


def entries(app, action=None):
    """(action, by editor's email or None, subject, detail) of every entry, oldest first."""
    query = (sa.select(AuditEntry.action, Editor.email, AuditEntry.subject, AuditEntry.detail_json)
             .outerjoin(Editor, Editor.id == AuditEntry.editor_id).order_by(AuditEntry.id))
    if action:
        query = query.where(AuditEntry.action == action)
    return [(a, by, subject, json.loads(detail)) for a, by, subject, detail in rows(app, query)]


@pytest.fixture
def admin(app, make_editor):
    """A logged-in admin's client; the login's own entry is cleared, so each test sees its own."""
    make_editor("admin@example.com", PASSWORD, role="admin", name="Ada")
    auth = AuthActions(app.test_client())
    assert auth.login("admin@example.com", PASSWORD).status_code == 302
    with app.app_context():
        db.session.execute(sa.delete(AuditEntry))
        db.session.commit()
    return auth


def post(auth, path, **form):
    return auth._client.post(path, data={"csrf_token": auth.token("/account"), **form})


def editor_id(app, email):
    return rows(app, sa.select(Editor.id).where(Editor.email == email))[0][0]


# --- Logins -------------------------------------------------------------------------------

def test_a_login_and_a_logout_are_recorded_as_the_editors(app, client, make_editor):
    editor = make_editor("ed@example.com", PASSWORD)
    auth = AuthActions(client)
    assert auth.login("ed@example.com", PASSWORD).status_code == 302
    auth.logout()
    assert [(a, by, subject) for a, by, subject, _ in entries(app)] == [
        ("login", "ed@example.com", f"editor {editor} (ed@example.com)"),
        ("logout", "ed@example.com", f"editor {editor} (ed@example.com)")]


def test_a_failed_login_names_the_account_but_not_who_tried(app, client, make_editor):
    editor = make_editor("ed@example.com", PASSWORD)
    assert AuthActions(client).login("ed@example.com", "wrong password here").status_code == 401
    [(action, by, subject, detail)] = entries(app)
    assert (action, by, subject) == ("login_failed", None, f"editor {editor} (ed@example.com)")
    assert detail["known_editor"] is True and re.fullmatch(r"[0-9a-f]{12}", detail["address"])


def test_a_failed_login_for_no_editor_keeps_nothing_that_was_typed(app, client):
    """What was typed may be a password in the wrong field or a stranger's address."""
    typed = "hunter2-in-the-email-field@example.com"
    assert AuthActions(client).login(typed, "whatever was typed").status_code == 401
    [(action, by, subject, detail)] = entries(app)
    assert (action, by, subject, detail["known_editor"]) == ("login_failed", None, "", False)
    stored = rows(app, sa.select(AuditEntry.subject, AuditEntry.detail_json))
    assert "hunter2" not in repr(stored) and "whatever" not in repr(stored)


def test_changing_ones_own_password_is_recorded(app, client, make_editor):
    editor = make_editor("ed@example.com", PASSWORD)
    auth = AuthActions(client)
    auth.login("ed@example.com", PASSWORD)
    response = client.post("/account", data={"csrf_token": auth.token("/account"), "current_password": PASSWORD,
                                             "new_password": "another long passphrase"})
    assert response.status_code == 302
    assert entries(app, "password_changed") == [
        ("password_changed", "ed@example.com", f"editor {editor} (ed@example.com)", {})]


# --- Sites ---------------------------------------------------------------------------------

def test_adding_changing_and_removing_a_site_is_recorded_with_what_changed(app, admin):
    assert post(admin, "/sites", name="Daily", origins="https://daily.example.com",
                language="en").status_code == 302
    site_id = rows(app, sa.select(Site.id))[0][0]
    assert post(admin, f"/sites/{site_id}", name="Daily News", origins="https://daily.example.com",
                language="en").status_code == 302
    # Saving without a change records nothing.
    post(admin, f"/sites/{site_id}", name="Daily News", origins="https://daily.example.com", language="en")
    assert post(admin, f"/sites/{site_id}/remove").status_code == 302
    added, changed, removed = entries(app)
    assert added[:3] == ("site_added", "admin@example.com", f"site {site_id} (Daily)")
    assert added[3]["allowed_origins"] == ["https://daily.example.com"]
    assert changed[:3] == ("site_changed", "admin@example.com", f"site {site_id} (Daily News)")
    assert changed[3] == {"name": {"from": "Daily", "to": "Daily News"}}
    assert removed == ("site_removed", "admin@example.com", f"site {site_id} (Daily News)", {"reports": 0})


# --- Editors -------------------------------------------------------------------------------

def test_every_admin_change_to_an_editor_is_recorded(app, admin, make_site):
    make_site(name="Daily")
    site_id = rows(app, sa.select(Site.id))[0][0]
    assert post(admin, "/editors", email="ed@example.com", name="Ed", role="editor",
                site=str(site_id)).status_code == 201
    ed = editor_id(app, "ed@example.com")
    post(admin, f"/editors/{ed}/role", role="admin")
    post(admin, f"/editors/{ed}/active", active="0")
    post(admin, f"/editors/{ed}/active", active="1")
    post(admin, f"/editors/{ed}/password")
    post(admin, f"/editors/{ed}/sites")
    subject = f"editor {ed} (ed@example.com)"
    assert entries(app) == [
        ("editor_added", "admin@example.com", subject, {"role": "editor", "sites": ["Daily"]}),
        ("editor_role_changed", "admin@example.com", subject, {"role": {"from": "editor", "to": "admin"}}),
        ("editor_deactivated", "admin@example.com", subject, {}),
        ("editor_activated", "admin@example.com", subject, {}),
        ("editor_password_reset", "admin@example.com", subject, {}),
        ("editor_sites_changed", "admin@example.com", subject, {"added": [], "removed": ["Daily"]}),
    ]


def test_a_refused_change_records_nothing(app, admin):
    """The last admin cannot demote themselves: nothing happened, so nothing is recorded."""
    post(admin, f"/editors/{editor_id(app, 'admin@example.com')}/role", role="editor")
    assert entries(app) == []


# --- Notification rules --------------------------------------------------------------------

def test_notification_rules_added_removed_and_secrets_replaced_are_recorded(app, admin, make_site):
    make_site(name="Daily")
    site_id = rows(app, sa.select(Site.id))[0][0]
    assert post(admin, f"/sites/{site_id}/notifications", recipient="webhook",
                target="https://hooks.example.com/copydesk").status_code == 201
    rule_id = rows(app, sa.select(Rule.id).where(Rule.recipient == "webhook"))[0][0]
    assert post(admin, f"/sites/{site_id}/notifications/rules/{rule_id}/secret").status_code == 200
    [secrets] = rows(app, sa.select(Rule.secret, Rule.previous_secret).where(Rule.id == rule_id))
    assert post(admin, f"/sites/{site_id}/notifications/rules/{rule_id}/remove").status_code == 302
    logged = entries(app)
    assert [(a, by, subject) for a, by, subject, _ in logged] == [
        ("notification_rule_added", "admin@example.com", f"site {site_id} (Daily)"),
        ("notification_secret_rotated", "admin@example.com", f"site {site_id} (Daily)"),
        ("notification_rule_removed", "admin@example.com", f"site {site_id} (Daily)")]
    assert all(detail["rule"] == rule_id for *_, detail in logged)
    # The secrets themselves are never in the trail (admins see them masked, as on the page).
    trail = repr(rows(app, sa.select(AuditEntry.subject, AuditEntry.detail_json)))
    assert "(secret whsec_" in trail and all(secret[-12:] not in trail for secret in secrets)


# --- The CLI -------------------------------------------------------------------------------

def test_cli_changes_are_recorded_as_the_desks_via_the_cli(app, runner):
    assert runner.invoke(args=["sites", "add", "Daily", "--origin", "https://daily.example.com"]).exit_code == 0
    assert runner.invoke(args=["editors", "add", "ed@example.com", "--site", "Daily"],
                         input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    assert runner.invoke(args=["editors", "add", "ada@example.com", "--admin"],
                         input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    assert runner.invoke(args=["editors", "role", "ed@example.com", "admin"]).exit_code == 0
    assert runner.invoke(args=["editors", "deactivate", "ed@example.com"]).exit_code == 0
    assert runner.invoke(args=["editors", "set-password", "ed@example.com"],
                         input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    assert runner.invoke(args=["sites", "remove", "Daily", "--yes"]).exit_code == 0
    logged = entries(app)
    assert [action for action, *_ in logged] == [
        "site_added", "editor_added", "editor_added", "editor_role_changed", "editor_deactivated",
        "editor_password_reset", "site_removed"]
    assert all(by is None and detail["via"] == "cli" for _, by, _, detail in logged)


# --- The Audit page ------------------------------------------------------------------------

def test_the_audit_page_lists_entries_newest_first_with_who_and_what(app, admin):
    with app.app_context():
        record("site_added", "site 7 (Daily)", by=db.session.get(Editor, editor_id(app, "admin@example.com")))
        record("site_changed", "site 7 (Daily)", name={"from": "Daily", "to": "Daily News"})
        db.session.commit()
    page = admin._client.get("/audit")
    assert page.status_code == 200
    table = page.text.split("<table")[1]
    assert table.index("Site changed") < table.index("Site added")
    assert "name: Daily → Daily News" in page.text
    assert "admin@example.com" in page.text and "the desk (command line or system)" in page.text


@with_settings(PAGE_SIZE=2)
def test_the_audit_page_pages_by_keyset_and_filters_by_action(app, admin):
    with app.app_context():
        for n in range(5):
            record("site_added" if n % 2 else "site_removed", f"site {n} (Paper {n})")
        db.session.commit()
    first = admin._client.get("/audit")
    assert "Paper 4" in first.text and "Paper 3" in first.text and "Paper 2" not in first.text
    older = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = admin._client.get(older)
    assert "Paper 2" in second.text and "Paper 1" in second.text and "Paper 4" not in second.text
    only_added = admin._client.get("/audit?action=site_added")
    assert "Paper 3" in only_added.text and "Paper 1" in only_added.text
    assert "Paper 4" not in only_added.text and "Paper 2" not in only_added.text


@pytest.mark.parametrize("query", ["after=abc", "after=-1", "after=" + "9" * 40, "action=" + "x" * 41,
                                   "after=%C2%B2", "after=%D9%A3", "action=%00", "action=login%00"])
def test_a_bad_audit_page_address_is_a_clear_400(app, admin, query):
    response = admin._client.get(f"/audit?{query}")
    assert response.status_code == 400
    assert "audit trail" in response.text or "no such action" in response.text


def test_only_admins_see_the_audit_link(app, client, make_editor):
    make_editor("ed@example.com", PASSWORD)
    auth = AuthActions(client)
    auth.login("ed@example.com", PASSWORD)
    assert 'href="/audit"' not in client.get("/account").text
    assert client.get("/audit").status_code == 403
