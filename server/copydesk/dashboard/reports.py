"""The report list, a report's page and the actions on it."""

from datetime import datetime, time

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from .. import checks, fragments
from ..db import db
from ..models import Refused, Report
from ..schemas import BULK_LIMIT, CHECK_FILTERS, ReportActionSchema, ReportFilterSchema, ReportIdsSchema
from ..search import text_matches
from . import ID, all_sites, bp, forget_status_counts, form_data, report_or_404

def _cursor(report, sort):
    return f"{report.submission_count}:{report.id}" if sort == "most" else str(report.id)


def _position(cursor, sort):
    """The sort key a cursor stands for: "count:id" when most reported first, else "id"."""
    first, _, second = cursor.partition(":")
    if sort == "most":
        return (int(first), int(second or 0))
    return int(second or first)


def filtered_reports(filters):
    """The list's query for its filters (a loaded ``ReportFilterSchema``): its pages, and
    the bulk actions on "the reports of this filter"."""
    query = sa.select(Report)
    if filters["site"]:
        query = query.where(Report.site_id == filters["site"])
    if filters["status"] == "open":
        query = query.where(Report.status.in_(("new", "confirmed")))
    elif filters["status"] != "all":
        query = query.where(Report.status == filters["status"])
    if filters["resolution"]:
        query = query.where(Report.resolution == filters["resolution"])
    if filters["kind"]:
        query = query.where(Report.kind_count(filters["kind"]) > 0)
    if filters["since"]:
        query = query.where(Report.created_at >= datetime.combine(filters["since"], time.min))
    if filters["until"]:
        query = query.where(Report.created_at <= datetime.combine(filters["until"], time.max))
    if filters["q"]:
        query = query.where(text_matches(filters["q"].strip(), Report.exact, Report.title, Report.page_url))
    if filters["check"]:
        query = query.where(checks.state_is(filters["check"]))
    return query


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

    query = filtered_reports(filters)

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
                           link_args=link_args, sites=all_sites(), next_cursor=next_cursor, prev_cursor=prev_cursor,
                           page_checks=checks.checks_of(row.id for row in rows))


@bp.post(f"/reports/<{ID}:report_id>/action")
@login_required
def report_action(report_id):
    item = report_or_404(report_id)
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


# --- Page checks (is the error still on the page?) --------------------------------------

bp.add_app_template_global(fragments.page_link, "page_link")
bp.add_app_template_global(checks.STATE_SAYS, "CHECK_STATE_SAYS")
bp.add_app_template_global(CHECK_FILTERS, "CHECK_FILTERS")
bp.add_app_template_filter(checks.word_diff, "word_diff")


@bp.post(f"/reports/<{ID}:report_id>/check")
@login_required
def report_check(report_id):
    """Check the page now, in the request (the fetch gives up after 5 seconds)."""
    item = report_or_404(report_id)
    state = checks.check_report(item)
    forget_status_counts()  # a reverted fix reopens the report
    flash(f"Checked the page: {checks.STATE_SAYS[state]}")
    return redirect(url_for("dashboard.report", report_id=item.id))


def _filters_of(form):
    """The list's filters sent along with a bulk action (answers 400 for bad ones), and the
    list's arguments to go back to."""
    schema = ReportFilterSchema()
    data = {k: v for k, v in form_data(form).items() if k in schema.fields and k not in ("after", "before")}
    try:
        return schema.load(data), data
    except ValidationError as err:
        abort(400, "These filters are not valid: " + "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in err.messages.items()))


@bp.post("/reports/check")
@login_required
def reports_check():
    """Queue the pages of the filter's reports for the worker, those checked longest ago
    first, at most BULK_LIMIT a click: the click answers at once, and a slow site cannot
    hold the request (nor every thread of the server) for minutes."""
    filters, link_args = _filters_of(request.form)
    ids = db.session.scalars(
        filtered_reports(filters).outerjoin(checks.PageCheck, checks.PageCheck.report_id == Report.id)
        .where(~sa.exists().where(checks.CheckRequest.report_id == Report.id))
        .order_by(checks.PageCheck.checked_at.is_not(None), checks.PageCheck.checked_at, Report.id)
        .limit(BULK_LIMIT).with_only_columns(Report.id)).all()
    queued = checks.request_checks(ids)
    db.session.commit()
    if not queued:
        flash("Nothing to queue: the reports of this filter are queued for a check already.")
    else:
        more = f" At most {BULK_LIMIT} at a time: queue the next ones when these are done." \
            if len(ids) == BULK_LIMIT else ""
        flash(f"Queued {queued} report{'s' if queued != 1 else ''} for a page check, those checked longest "
              f"ago first. The background worker checks them within minutes; reload to see.{more}")
    return redirect(url_for("dashboard.reports", **link_args))


@bp.route("/reports/close-changed", methods=["GET", "POST"])
@login_required
def reports_close_changed():
    """Close the filter's open reports whose words changed on the page as fixed: GET lists
    them (at most BULK_LIMIT) for the editor to confirm; POST closes the ones listed that
    are still open and changed, each through ``Report.close`` (each audited)."""
    if request.method == "GET":
        filters, link_args = _filters_of(request.args)
        candidates = db.session.scalars(
            filtered_reports(filters).where(Report.status != "closed", checks.state_is("changed"))
            .order_by(Report.id.desc()).limit(BULK_LIMIT)).all()
        return render_template("dashboard/reports_close_changed.html", reports=candidates, link_args=link_args,
                               page_checks=checks.checks_of(r.id for r in candidates), limit=BULK_LIMIT)
    _filters, link_args = _filters_of(request.form)
    try:
        ids = ReportIdsSchema().load({"report": request.form.getlist("report")})["report"]
    except ValidationError:
        abort(400, f"Confirm 1 to {BULK_LIMIT} reports from the list of reports to close.")
    # Locked: another editor closing or reopening one meanwhile is seen, not overwritten.
    still = db.session.scalars(
        sa.select(Report).where(Report.id.in_(ids), Report.status != "closed", checks.state_is("changed"))
        .order_by(Report.id).with_for_update()).all()
    for item in still:
        item.close("fixed", by=current_user)
    db.session.commit()
    forget_status_counts()
    left = len(set(ids)) - len(still)
    flash(f"Closed {len(still)} report{'s' if len(still) != 1 else ''} as fixed."
          + (f" {left} left as they were: closed or checked again meanwhile." if left else ""))
    return redirect(url_for("dashboard.reports", **link_args))
