"""Who may do what on every dashboard and auth route, and CSRF on every form.

ROUTES lists each (endpoint, method) with the answer for an anonymous visitor, an
editor and an admin; a test fails when the app has a route this table does not name,
so a new route cannot ship without its access rule being tested.

Sites per editor, the second dimension: the "editor" belongs to the world's site, the
"outsider" is an editor of another site only. On a route that takes a report or a site
(SCOPED_ARGS) the outsider gets 404 where the member gets an answer; on every other
route they get the member's answer, and no page they see names the world's site or
report, no request of theirs changes its rows. A route that is different says so in
its ``outsider`` field.

To add a route: one ROUTES row; ``world`` answers the URL arguments it takes.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import url_for
from werkzeug.security import generate_password_hash

from conftest import csrf_token
from copydesk.db import db
from copydesk.models import Editor, Report, SenderBlock, Site, Submission, utcnow
from copydesk.notify.models import AuthorContact, Delivery, Rule, new_webhook_secret

PASSWORD = "correct horse battery"
LOGIN = "login"  # redirected to the login page, nothing done
ROLES = ("anonymous", "editor", "admin", "outsider")
# URL arguments that name something on one site: an editor of other sites gets a 404.
SCOPED_ARGS = {"report_id", "site_id", "submission_id", "block_id"}
# Names only the world's site and report have: an outsider's pages never show them.
WORLD_SITE_NAME, WORLD_REPORT_TITLE = "Zebra Courier", "Quokka census results"
# Rows an outsider's request may change: their own account, session and the audit trail.
OWN_TABLES = {"editor", "editor_session", "login_attempt", "audit_entry"}


@dataclass(frozen=True)
class Route:
    anonymous: object
    editor: int
    admin: int
    form: dict = field(default_factory=dict)
    changes_data: bool = False  # an allowed POST changes rows
    outsider: object = None  # None: 404 on a route taking SCOPED_ARGS the member may use, else the member's answer
    # Query arguments, each a ``world`` key in braces or a plain value: {"site": "{site_id}"}.
    query: dict = field(default_factory=dict)
    scoped: bool = False  # names one site's things in its query: as SCOPED_ARGS for the outsider
    shows_world: bool = False  # the member's page names the world's report: so the outsider's not naming it counts

    def expected(self, role, arguments=()):
        if role != "outsider":
            return getattr(self, role)
        if self.outsider is not None:
            return self.outsider
        if (self.scoped or SCOPED_ARGS & set(arguments)) and self.editor not in (403, LOGIN):
            return 404
        return self.editor


ROUTES = {
    ("auth.login", "GET"): Route(200, 302, 302),
    ("auth.login", "POST"): Route(302, 302, 302, form={"email": "editor@example.com", "password": PASSWORD}),
    ("auth.logout", "POST"): Route(LOGIN, 302, 302),
    ("dashboard.index", "GET"): Route(LOGIN, 302, 302),
    ("dashboard.reports", "GET"): Route(LOGIN, 200, 200, shows_world=True),
    ("dashboard.report", "GET"): Route(LOGIN, 200, 200, shows_world=True),
    ("dashboard.report_action", "POST"): Route(LOGIN, 302, 302, changes_data=True, form={
        "action": "note", "note": "Checked with the desk."}),
    # Page checks: as other report actions. The world's page does not resolve: "unknown" is recorded.
    ("dashboard.report_check", "POST"): Route(LOGIN, 302, 302, changes_data=True),
    ("dashboard.reports_check", "POST"): Route(LOGIN, 302, 302, changes_data=True, form={"status": "all"}),
    ("dashboard.reports_close_changed", "GET"): Route(LOGIN, 200, 200),
    # The world's report was never found changed: confirmed, but nothing to close.
    ("dashboard.reports_close_changed", "POST"): Route(LOGIN, 302, 302, form={"report": "1"}),
    ("dashboard.account", "GET"): Route(LOGIN, 200, 200),
    ("dashboard.account", "POST"): Route(LOGIN, 302, 302, changes_data=True, form={
        "current_password": PASSWORD, "new_password": "a brand new passphrase"}),
    ("dashboard.sites", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.sites", "POST"): Route(LOGIN, 403, 302, changes_data=True, form={
        "name": "Weekly", "origins": "https://weekly.example.com", "language": "en"}),
    ("dashboard.site", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.site", "POST"): Route(LOGIN, 403, 302, changes_data=True, form={
        "name": "Daily renamed", "origins": "https://daily.example.com", "language": "en"}),
    ("dashboard.editors", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.site_remove", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.site_remove", "POST"): Route(LOGIN, 403, 302, changes_data=True),
    ("dashboard.editors", "POST"): Route(LOGIN, 403, 201, changes_data=True, form={
        "email": "new.editor@example.com", "name": "New Editor", "role": "editor"}),
    ("dashboard.editor_active", "POST"): Route(LOGIN, 403, 302, changes_data=True, form={"active": "0"}),
    ("dashboard.editor_role", "POST"): Route(LOGIN, 403, 302, changes_data=True, form={"role": "admin"}),
    ("dashboard.editor_password", "POST"): Route(LOGIN, 403, 200, changes_data=True),
    ("dashboard.notifications", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.notifications", "POST"): Route(LOGIN, 403, 302, changes_data=True, form={
        "recipient": "email", "target": "desk@example.com"}),
    ("dashboard.notification_rule_remove", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.notification_rule_remove", "POST"): Route(LOGIN, 403, 302, changes_data=True),
    ("dashboard.notification_rule_secret", "POST"): Route(LOGIN, 403, 200, changes_data=True),
    ("dashboard.notification_authors", "POST"): Route(LOGIN, 403, 302, changes_data=True, form={
        "author": "Bea Rook", "address": "bea@example.com"}),
    ("dashboard.notification_author_remove", "POST"): Route(LOGIN, 403, 302, changes_data=True),
    ("dashboard.notification_test", "POST"): Route(LOGIN, 403, 200),
    ("dashboard.delivery_retry", "POST"): Route(LOGIN, 403, 302, changes_data=True),
    # The world's site is the first one: id 1.
    ("dashboard.account_notifications", "POST"): Route(LOGIN, 302, 302, changes_data=True, form={"mode-1": "instant"}),
    # The outsider's site is the second one: id 2.
    ("dashboard.editor_sites", "POST"): Route(LOGIN, 403, 302, changes_data=True, form={"site": "2"}),
    ("dashboard.audit", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.stats", "GET"): Route(LOGIN, 200, 200),
    # The list's filter as a file: an outsider's export is empty (their sites only).
    ("dashboard.reports_export_csv", "GET"): Route(LOGIN, 200, 200),
    ("dashboard.reports_export_jsonl", "GET"): Route(LOGIN, 200, 200),
    # The article view (reportpage): pages by open reports, and every report on the world's page.
    ("dashboard.articles", "GET"): Route(LOGIN, 200, 200, shows_world=True),
    ("dashboard.article", "GET"): Route(LOGIN, 200, 200, scoped=True, shows_world=True,
                                        query={"site": "{site_id}", "page": "https://daily.example.com/a"}),
    # Moderation: any editor assigns (the world's admin, id 1, sees every site); admins delete,
    # erase (the world's only submission: its report goes too) and lift blocks.
    ("dashboard.assign_report", "POST"): Route(LOGIN, 302, 302, changes_data=True, form={"editor": "1"}),
    ("dashboard.report_delete", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.report_delete", "POST"): Route(LOGIN, 403, 302, changes_data=True),
    ("dashboard.submission_erase", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.submission_erase", "POST"): Route(LOGIN, 403, 302, changes_data=True),
    ("dashboard.blocks", "GET"): Route(LOGIN, 403, 200),
    ("dashboard.block_lift", "POST"): Route(LOGIN, 403, 302, changes_data=True),
    # Triage: the next report of a list, and bulk actions on "all matching" (re-run on the
    # editor's own sites: the outsider's touches none of the world's reports).
    ("dashboard.report_next", "GET"): Route(LOGIN, 302, 302, query={"list": "status=all"}),
    ("dashboard.reports_bulk", "POST"): Route(LOGIN, 302, 302, changes_data=True, form={
        "action": "assign", "all_matching": "true", "list": "status=all",
        "seen_newest": "2147483647", "seen_matching": "1"}),  # as the list of the world's one report shows
    # Account: the editor's own language and time zone.
    ("dashboard.account_preferences", "POST"): Route(LOGIN, 302, 302, changes_data=True, form={
        "language": "ru", "time_zone": "Europe/Moscow"}),
}
POST_ROUTES = [key for key in ROUTES if key[1] == "POST"]


def app_routes(app):
    return {(rule.endpoint, method)
            for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in ("dashboard", "auth")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


@pytest.fixture(scope="module")
def password_hash():
    # Scrypt at a low work factor: these tests are about routes, not hashing, and log in ~200 times.
    return generate_password_hash(PASSWORD, method="scrypt:1024:8:1")


@pytest.fixture
def world(app, password_hash, make_site):
    """An admin, an editor, a third editor to act on, a site and a report with a submission;
    an outsider, editor of a second site only; answers the URL arguments routes take."""
    make_site(name=WORLD_SITE_NAME, origins=["https://daily.example.com"])
    make_site(name="Outpost Weekly", origins=["https://weekly.example.com"])
    with app.app_context():
        world_site, other_site = db.session.scalars(sa.select(Site).order_by(Site.id)).all()
        editors = [Editor(email=f"{name}@example.com", name=name.title(), role=role, password_hash=password_hash,
                          sites=sites)
                   for name, role, sites in (("admin", "admin", []), ("editor", "editor", [world_site]),
                                             ("other", "editor", [world_site]), ("outsider", "editor", [other_site]))]
        db.session.add_all(editors)
        site_id = world_site.id
        report = Report(site_id=site_id, anchor_key="k" * 64, group_key="k" * 64,
                        page_url="https://daily.example.com/a", page_key="https://daily.example.com/a",
                        exact="teh", title=WORLD_REPORT_TITLE)
        db.session.add(report)
        db.session.flush()
        submission = Submission(report_id=report.id, site_id=site_id, idempotency_key="world-0001",
                                comment="the", ip_hash="0" * 32, user_agent="UA")
        block = SenderBlock(site_id=site_id, ip_hash="0" * 32, until=utcnow() + timedelta(days=1), report_id=report.id)
        db.session.add_all([submission, block])
        # A webhook nobody listens on (its test fails at once), an author contact, a failed delivery.
        rule = Rule(site_id=site_id, recipient="webhook", target="http://127.0.0.1:9/hook", secret=new_webhook_secret())
        contact = AuthorContact(site_id=site_id, author="Ann Lee", author_key="ann lee", email="ann@example.com")
        db.session.add_all([rule, contact])
        db.session.flush()
        delivery = Delivery(site_id=site_id, rule_id=rule.id, channel="webhook", recipient=rule.target,
                            recipient_key=f"rule:{rule.id}", state="failed", attempts=3, last_error="HTTP 500")
        db.session.add(delivery)
        db.session.commit()
        return {"report_id": report.id, "site_id": site_id, "editor_id": editors[2].id, "rule_id": rule.id,
                "contact_id": contact.id, "delivery_id": delivery.id, "submission_id": submission.id,
                "block_id": block.id}


def route_arguments(app, endpoint):
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint).arguments


def route_url(app, endpoint, world, method="GET"):
    query = {name: value.format(**world) for name, value in ROUTES[(endpoint, method)].query.items()}
    with app.test_request_context():
        return url_for(endpoint, **{name: world[name] for name in route_arguments(app, endpoint)}, **query)


def snapshot(app, leave_out=()):
    """Every row of every table (but ``leave_out``), to tell whether a request changed anything."""
    with app.app_context():
        return {table.name: db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
                for table in db.metadata.sorted_tables if table.name not in leave_out}


def sign_in(client, role):
    """Log in as the role (or not) and answer a CSRF token of this session."""
    if role != "anonymous":
        page = client.get("/login")
        response = client.post("/login", data={"email": f"{role}@example.com", "password": PASSWORD,
                                               "csrf_token": csrf_token(page.text)})
        assert response.status_code == 302
        return csrf_token(client.get("/account").text)
    return csrf_token(client.get("/login").text)


def test_every_dashboard_and_auth_route_has_an_access_rule(app):
    missing = app_routes(app) - set(ROUTES)
    assert not missing, f"add these routes to ROUTES in {__name__} with who may use them: {missing}"
    assert not set(ROUTES) - app_routes(app), "ROUTES names routes the app no longer has"


@pytest.mark.parametrize("endpoint, method, role", [
    (endpoint, method, role) for (endpoint, method) in ROUTES for role in ROLES])
def test_route_answers_each_role_as_its_rule_says(app, client, world, endpoint, method, role):
    rule = ROUTES[(endpoint, method)]
    token = sign_in(client, role)
    url = route_url(app, endpoint, world, method)
    before = snapshot(app)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={**rule.form, "csrf_token": token})
    expected = rule.expected(role, route_arguments(app, endpoint))

    if role == "outsider" and expected != LOGIN:
        assert response.status_code == expected, response.text[:500]
        assert WORLD_SITE_NAME not in response.text and WORLD_REPORT_TITLE not in response.text
        assert snapshot(app, leave_out=OWN_TABLES) == {
            name: rows for name, rows in before.items() if name not in OWN_TABLES}
        return

    if expected == LOGIN:
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        if method == "GET":
            assert parse_qs(location.query) == {"next": [url]}
        assert snapshot(app) == before
        return
    assert response.status_code == expected, response.text[:500]
    if rule.shows_world and role == "editor":
        assert WORLD_REPORT_TITLE in response.text
    if expected == 403:
        assert "Forbidden" in response.text
        assert snapshot(app) == before
    elif method == "POST" and rule.changes_data:
        assert snapshot(app) != before


@pytest.mark.parametrize("endpoint", [e for e, m in POST_ROUTES])
def test_post_without_csrf_token_is_refused(app, client, world, endpoint):
    role = "anonymous" if endpoint == "auth.login" else "admin"
    sign_in(client, role)
    before = snapshot(app)
    response = client.post(route_url(app, endpoint, world, "POST"), data=ROUTES[(endpoint, "POST")].form)
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.text
    assert snapshot(app) == before
    # Nothing happened to the session either: no login, no logout.
    assert (client.get("/reports").status_code == 200) is (role == "admin")


@pytest.mark.parametrize("endpoint", [e for e, m in POST_ROUTES])
def test_post_with_another_sessions_csrf_token_is_refused(app, client, world, endpoint):
    forged = sign_in(app.test_client(), "admin")  # the attacker's own valid token
    sign_in(client, "anonymous" if endpoint == "auth.login" else "admin")
    before = snapshot(app)
    response = client.post(route_url(app, endpoint, world, "POST"),
                           data={**ROUTES[(endpoint, "POST")].form, "csrf_token": forged})
    assert response.status_code == 400
    assert "The CSRF tokens do not match." in response.text
    assert snapshot(app) == before
