"""The editors' dashboard: report list, report detail and triage, sites and editors."""

import secrets
from datetime import datetime, time, timedelta
from functools import wraps
from time import monotonic

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from .db import db
from .models import RESOLUTIONS, STATUSES, Editor, Event, Report, Site, Submission, utcnow
from .schemas import (EditorSchema, PasswordChangeSchema, ReportActionSchema, ReportFilterSchema,
                      SiteSchema)
from .text import is_http_url

bp = Blueprint("dashboard", __name__)

SUBMISSIONS_SHOWN = 100


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


@bp.app_template_filter("linkable")
def linkable(url):
    """Only http(s) URLs ever become links."""
    return bool(url) and is_http_url(url)


@bp.app_context_processor
def _navigation():
    if not current_user.is_authenticated:
        return {}
    return {"status_counts": nav_status_counts(), "RESOLUTIONS": RESOLUTIONS}


STATUS_COUNTS_SECONDS = 5


def nav_status_counts():
    """The navigation's counts, recounted at most every few seconds per process: at
    200,000 reports the count costs more than the rest of a page, and a flood of new
    reports must not make every page recount. An editor's own action recounts at once."""
    cached = current_app.extensions.get("copydesk.status_counts")
    now = monotonic()
    if cached is None or cached[0] < now:
        cached = (now + STATUS_COUNTS_SECONDS, status_counts())
        current_app.extensions["copydesk.status_counts"] = cached
    return cached[1]


def forget_status_counts():
    current_app.extensions.pop("copydesk.status_counts", None)


def status_counts(site_id=None):
    query = sa.select(Report.status, sa.func.count()).group_by(Report.status)
    if site_id:
        query = query.where(Report.site_id == site_id)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(dict(db.session.execute(query).all()))
    return counts


def form_data(form):
    """Form fields with empty values left out, so schema defaults apply."""
    return {k: v for k, v in form.items() if v != ""}


@bp.get("/")
@login_required
def index():
    return redirect(url_for("dashboard.reports"))


def _cursor(report, sort):
    return f"{report.submission_count}:{report.id}" if sort == "most" else str(report.id)


def _position(cursor, sort):
    """The sort key a cursor stands for: "count:id" when most reported first, else "id"."""
    first, _, second = cursor.partition(":")
    if sort == "most":
        return (int(first), int(second or 0))
    return int(second or first)


@bp.get("/reports")
@login_required
def reports():
    try:
        filters = ReportFilterSchema().load(form_data(request.args))
    except ValidationError as err:
        return render_template("dashboard/reports.html", reports=[], errors=err.messages,
                               filters={}, sites=_sites(), next_cursor=None, prev_cursor=None), 400

    query = sa.select(Report)
    if filters["site"]:
        query = query.where(Report.site_id == filters["site"])
    if filters["status"] == "open":
        query = query.where(Report.status.in_(("new", "confirmed")))
    elif filters["status"] != "all":
        query = query.where(Report.status == filters["status"])
    if filters["resolution"]:
        query = query.where(Report.resolution == filters["resolution"])
    if filters["since"]:
        query = query.where(Report.created_at >= datetime.combine(filters["since"], time.min))
    if filters["until"]:
        query = query.where(Report.created_at < datetime.combine(filters["until"] + timedelta(days=1), time.min))
    if filters["q"]:
        needle = filters["q"].strip()
        query = query.where(sa.or_(*(column.contains(needle, autoescape=True) for column in (
            Report.exact, Report.title, Report.page_url))))

    sort = filters["sort"]
    size = current_app.config["PAGE_SIZE"]
    key = sa.tuple_(Report.submission_count, Report.id) if sort == "most" else Report.id
    order_desc = [Report.submission_count.desc(), Report.id.desc()] if sort == "most" else [Report.id.desc()]
    order_asc = [Report.submission_count.asc(), Report.id.asc()] if sort == "most" else [Report.id.asc()]

    # Keyset pagination: every page costs the same, however deep.
    if filters["before"]:
        value = _position(filters["before"], sort)
        rows = db.session.scalars(query.where(key > value).order_by(*order_asc).limit(size + 1)).all()
        has_more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        prev_cursor = _cursor(rows[0], sort) if rows and has_more_before else None
        next_cursor = _cursor(rows[-1], sort) if rows else None
    else:
        if filters["after"]:
            value = _position(filters["after"], sort)
            query = query.where(key < value)
        rows = db.session.scalars(query.order_by(*order_desc).limit(size + 1)).all()
        next_cursor = _cursor(rows[size - 1], sort) if len(rows) > size else None
        rows = rows[:size]
        prev_cursor = _cursor(rows[0], sort) if rows and filters["after"] else None

    return render_template("dashboard/reports.html", reports=rows, filters=filters, errors=None,
                           sites=_sites(), next_cursor=next_cursor, prev_cursor=prev_cursor)


def _sites():
    return db.session.scalars(sa.select(Site).order_by(Site.name)).all()


@bp.get("/reports/<int:report_id>")
@login_required
def report(report_id):
    item = db.get_or_404(Report, report_id)
    submissions = db.session.scalars(
        item.submissions.select().order_by(Submission.id.desc()).limit(SUBMISSIONS_SHOWN)).all()
    events = db.session.scalars(item.events.select().order_by(Event.id)).all()
    later = db.session.scalars(sa.select(Report).where(Report.previous_report_id == item.id)).all()
    return render_template("dashboard/report.html", report=item, submissions=submissions,
                           events=events, later_reports=later, shown=SUBMISSIONS_SHOWN)


def _record(item, kind, old, new, note=""):
    db.session.add(Event(report_id=item.id, editor_id=current_user.id, kind=kind,
                         from_value=old, to_value=new, note=note))


def _set_status(item, status):
    _record(item, "status", item.status, status)
    item.status = status


@bp.post("/reports/<int:report_id>/action")
@login_required
def report_action(report_id):
    item = db.get_or_404(Report, report_id)
    back = redirect(url_for("dashboard.report", report_id=item.id))
    try:
        action = ReportActionSchema().load(form_data(request.form))
    except ValidationError as err:
        for field, messages in err.messages.items():
            flash(f"{field}: {' '.join(messages)}", "error")
        return back
    if action["expected_status"] and action["expected_status"] != item.status:
        flash(f"Someone changed this report to “{item.status}” meanwhile; nothing was changed.", "error")
        return back

    kind = action["action"]
    if kind == "confirm":
        if item.status != "new":
            flash("Only a new report can be confirmed.", "error")
            return back
        _set_status(item, "confirmed")
    elif kind == "close":
        if item.status == "closed":
            flash("This report is already closed.", "error")
            return back
        _set_status(item, "closed")
        _record(item, "resolution", item.resolution, action["resolution"])
        item.resolution = action["resolution"]
        if item.resolution == "fixed":
            # The error is gone: a later sighting is a new report, not a repeat of this one.
            item.group_key = None
    elif kind == "reopen":
        if item.status != "closed":
            flash("Only a closed report can be reopened.", "error")
            return back
        _set_status(item, "new")
        _record(item, "resolution", item.resolution, None)
        item.resolution = None
        taken = db.session.scalar(sa.select(Report.id).where(Report.group_key == item.anchor_key))
        if taken is None:
            item.group_key = item.anchor_key
    if action["note"]:
        _record(item, "note", None, None, action["note"])
    item.updated_at = utcnow()
    db.session.commit()
    forget_status_counts()
    flash({"confirm": "Confirmed.", "close": "Closed.", "reopen": "Reopened.", "note": "Note added."}[kind])
    return back


# --- Sites and editors (admins) ---------------------------------------------------------

@bp.route("/sites", methods=["GET", "POST"])
@admin_required
def sites():
    errors = None
    if request.method == "POST":
        try:
            data = SiteSchema().load(form_data(request.form))
        except ValidationError as err:
            errors = err.messages
        else:
            site = Site()
            site.update_from(data)
            db.session.add(site)
            db.session.commit()
            flash(f"Site “{site.name}” added. Paste its embed snippet into your article template.")
            return redirect(url_for("dashboard.site", site_id=site.id))
    return render_template("dashboard/sites.html", sites=_sites(), errors=errors,
                           form=request.form), (400 if errors else 200)


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@admin_required
def site(site_id):
    item = db.get_or_404(Site, site_id)
    errors = None
    if request.method == "POST":
        try:
            data = SiteSchema().load(form_data(request.form))
        except ValidationError as err:
            errors = err.messages
        else:
            item.update_from(data)
            db.session.commit()
            flash("Site saved.")
            return redirect(url_for("dashboard.site", site_id=item.id))
    return render_template("dashboard/site.html", site=item, errors=errors,
                           snippet=item.embed_snippet(request.url_root)), (400 if errors else 200)


@bp.route("/editors", methods=["GET", "POST"])
@admin_required
def editors():
    errors = None
    if request.method == "POST":
        try:
            data = EditorSchema().load(form_data(request.form))
        except ValidationError as err:
            errors = err.messages
        else:
            email = data["email"].strip().lower()
            if db.session.scalar(sa.select(Editor.id).where(Editor.email == email)):
                errors = {"email": ["An editor with this email exists."]}
            else:
                password = secrets.token_urlsafe(12)
                editor = Editor(email=email, name=data["name"], role=data["role"])
                editor.set_password(password)
                db.session.add(editor)
                db.session.commit()
                flash(f"Editor {email} added. Their first password is: {password} — "
                      "pass it on privately; they can change it under Account.")
                return redirect(url_for("dashboard.editors"))
    all_editors = db.session.scalars(sa.select(Editor).order_by(Editor.email)).all()
    return render_template("dashboard/editors.html", editors=all_editors, errors=errors,
                           form=request.form), (400 if errors else 200)


@bp.post("/editors/<int:editor_id>/active")
@admin_required
def editor_active(editor_id):
    editor = db.get_or_404(Editor, editor_id)
    if editor.id == current_user.id:
        flash("You cannot deactivate yourself.", "error")
        return redirect(url_for("dashboard.editors"))
    editor.active = request.form.get("active") == "1"
    if not editor.active:
        editor.session_token = secrets.token_hex(16)  # ends their sessions now
    db.session.commit()
    flash(f"{editor.email} is now {'active' if editor.active else 'deactivated'}.")
    return redirect(url_for("dashboard.editors"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    errors = None
    if request.method == "POST":
        try:
            data = PasswordChangeSchema().load(form_data(request.form))
        except ValidationError as err:
            errors = err.messages
        else:
            if not current_user.check_password(data["current_password"]):
                errors = {"current_password": ["That is not your current password."]}
            else:
                current_user.set_password(data["new_password"])
                db.session.commit()
                from flask_login import login_user
                login_user(current_user)  # this session goes on; every other one ends
                flash("Password changed. Your other sessions are logged out.")
                return redirect(url_for("dashboard.account"))
    return render_template("dashboard/account.html", errors=errors), (400 if errors else 200)
