"""The desk's audit trail, for admins: who logged in, and every change to sites, editors
and notification rules, newest first."""

import json

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from ..db import db
from ..models import AuditEntry
from ..schemas import parse_whole_number
from ..text import storable
from . import admin_required, bp

# How the page names the actions it knows; any other shows as recorded.
ACTION_LABELS = {
    "login": lazy_gettext("Logged in"),
    "login_failed": lazy_gettext("Failed login"),
    "logout": lazy_gettext("Logged out"),
    "password_changed": lazy_gettext("Changed own password"),
    "editor_added": lazy_gettext("Editor added"),
    "editor_role_changed": lazy_gettext("Editor's role changed"),
    "editor_activated": lazy_gettext("Editor activated"),
    "editor_deactivated": lazy_gettext("Editor deactivated"),
    "editor_password_reset": lazy_gettext("Editor's password reset"),
    "editor_sites_changed": lazy_gettext("Editor's sites changed"),
    "site_added": lazy_gettext("Site added"),
    "site_changed": lazy_gettext("Site changed"),
    "site_removed": lazy_gettext("Site removed"),
    "notification_rule_added": lazy_gettext("Notification rule added"),
    "notification_rule_removed": lazy_gettext("Notification rule removed"),
    "notification_secret_rotated": lazy_gettext("Webhook secret replaced"),
}


def action_label(action):
    return ACTION_LABELS.get(action, action)


def details(entry):
    """The entry's details as (name, value) pairs, for the page."""
    try:
        detail = json.loads(entry.detail_json or "{}")
    except ValueError:
        return []
    return sorted(detail.items()) if isinstance(detail, dict) else []


@bp.app_template_filter("audit_value")
def audit_value(value):
    """A detail's value in words: lists comma-separated, nothing as a dash."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    return "—" if value is None or value == "" else value


@bp.get("/audit")
@admin_required
def audit():
    action = request.args.get("action", "")
    after = request.args.get("after", "")
    if len(action) > 40 or not storable(action):  # PostgreSQL refuses NUL even in a query parameter
        abort(400, _("There is no such action to filter by."))
    if after and parse_whole_number(after) is None:
        abort(400, _("That page of the audit trail does not exist. Start again from the newest entries."))
    query = sa.select(AuditEntry).options(so.selectinload(AuditEntry.editor)).order_by(AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    if after:
        query = query.where(AuditEntry.id < int(after))  # keyset paging: every page costs the same
    size = current_app.config["PAGE_SIZE"]
    entries = db.session.scalars(query.limit(size + 1)).all()
    next_cursor = entries[size - 1].id if len(entries) > size else None
    actions = sorted({*ACTION_LABELS, *db.session.scalars(sa.select(AuditEntry.action).distinct())},
                     key=lambda name: str(action_label(name)))
    return render_template("dashboard/audit.html", entries=entries[:size], action=action, actions=actions,
                           action_label=action_label, details=details, next_cursor=next_cursor, after=after)
