"""The report list, a report's page and the actions on it."""

from datetime import datetime, time

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from ..db import db
from ..models import Event, Refused, Report, Submission
from ..schemas import ReportActionSchema, ReportFilterSchema
from ..search import text_matches
from . import ID, all_sites, bp, forget_status_counts, form_data

SUBMISSIONS_SHOWN = 100


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
    schema = ReportFilterSchema()
    # The pager's links keep the filters, and only they: other query args never reach url_for.
    link_args = {k: v for k, v in form_data(request.args).items() if k in schema.fields
                 and k not in ("after", "before")}
    try:
        filters = schema.load(form_data(request.args))
    except ValidationError as err:
        return render_template("dashboard/reports.html", reports=[], errors=err.messages, filters={},
                               link_args={}, sites=all_sites(), next_cursor=None, prev_cursor=None), 400

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
        query = query.where(Report.created_at <= datetime.combine(filters["until"], time.max))
    if filters["q"]:
        query = query.where(text_matches(filters["q"].strip(), Report.exact, Report.title, Report.page_url))

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
                           link_args=link_args, sites=all_sites(), next_cursor=next_cursor, prev_cursor=prev_cursor)


@bp.get(f"/reports/<{ID}:report_id>")
@login_required
def report(report_id):
    item = db.get_or_404(Report, report_id)
    submissions = db.session.scalars(
        item.submissions.select().order_by(Submission.id.desc()).limit(SUBMISSIONS_SHOWN)).all()
    events = db.session.scalars(item.events.select().order_by(Event.id)).all()
    later = db.session.scalars(sa.select(Report).where(Report.previous_report_id == item.id)).all()
    return render_template("dashboard/report.html", report=item, submissions=submissions,
                           events=events, later_reports=later, shown=SUBMISSIONS_SHOWN)


@bp.post(f"/reports/<{ID}:report_id>/action")
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
    try:
        if kind == "confirm":
            item.confirm(by=current_user)
        elif kind == "close":
            item.close(action["resolution"], by=current_user)
        elif kind == "reopen":
            item.reopen(by=current_user)
        if action["note"]:
            item.add_note(action["note"], by=current_user)
    except Refused as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return back
    db.session.commit()
    forget_status_counts()
    flash({"confirm": "Confirmed.", "close": "Closed.", "reopen": "Reopened.", "note": "Note added."}[kind])
    return back
