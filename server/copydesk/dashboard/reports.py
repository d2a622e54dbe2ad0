"""The report list and the actions on reports: one at a time (a row of the list, a report's
page) or in bulk (the reports ticked in the list, or all those matching its filter)."""

from datetime import datetime, time
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from flask import (abort, current_app, flash, g, get_template_attribute, jsonify, redirect, render_template,
                   request, url_for)
from flask_babel import get_locale, gettext as _, lazy_gettext, ngettext
from flask_login import current_user, login_required
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy.exc import OperationalError

from .. import blocks, checks, fragments
from ..db import db
from ..models import RESOLUTION_LABELS, STATUS_LABELS, Refused, Report
from ..schemas import (BLOCK_HOURS, BULK_LIMIT, CHECK_FILTERS, ReportActionSchema, ReportBulkSchema,
                       ReportFilterSchema, ReportIdsSchema, SeenSchema)
from ..search import BadQuery, key_column, parse, restrict
from . import ID, bp, forget_status_counts, form_data, report_or_404, scoped, visible_sites


def _cursor(report, sort):
    return f"{report.submission_count}:{report.id}" if sort == "most" else str(report.id)


def _position(cursor, sort):
    """The sort key a cursor stands for: "count:id" when most reported first, else "id"."""
    first, _sep, second = cursor.partition(":")
    if sort == "most":
        return (int(first), int(second or 0))
    return int(second or first)


def _order(filters):
    """The list's sort key, its descending order (the list's own) and its ascending order.
    Newest first, a search orders by the search's own id column (``search.restrict``)."""
    if filters["sort"] == "most":
        return (sa.tuple_(Report.submission_count, Report.id), [Report.submission_count.desc(), Report.id.desc()],
                [Report.submission_count.asc(), Report.id.asc()])
    key = id_key(filters)
    return key, [key.desc()], [key.asc()]


def id_key(filters):
    """The id column the list's reports are read by: the search's own (``key_column``) or
    Report.id. The list, its "select all" count and the export page by it."""
    return key_column(db.session.get_bind().dialect.name) if searched(filters) else Report.id


def searched(filters):
    """The list's search, if it has one ("" if not)."""
    return filters["q"].strip()


def filtered_reports(filters):
    """The list's query for its filters (a loaded ``ReportFilterSchema``), limited to the
    editor's sites: its pages, "next in list", and the bulk actions on "all matching".
    Raises ``BadQuery`` for a search the search cannot read."""
    query = scoped(sa.select(Report))
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
    if filters["assignee"] == "me":
        query = query.where(Report.assignee_id == current_user.id)
    elif filters["assignee"] == "none":
        query = query.where(Report.assignee_id.is_(None))
    if searched(filters):
        query = restrict(query, searched(filters), db.session.get_bind().dialect.name)
    if filters["check"]:
        query = query.where(checks.state_is(filters["check"]))
    return query


def _list_args(pairs, paging=True):
    """The list's own arguments among ``pairs`` (empty ones left out, so defaults apply);
    without ``paging``, its position (after, before) left out too."""
    fields = ReportFilterSchema().fields
    return {k: v for k, v in pairs if k in fields and v != "" and (paging or k not in ("after", "before"))}


def list_of(source):
    """The filters and arguments (paging left out) of a list, given as a query string (the
    ``list=`` a report was opened from) or as fields (a form's, an export's query);
    ValidationError or BadQuery for a list that is not one."""
    pairs = parse_qsl(source) if isinstance(source, str) else source.items(multi=False)
    args = _list_args(pairs, paging=False)
    filters = ReportFilterSchema().load(args)
    if searched(filters):
        parse(searched(filters))  # a search it cannot read is refused now, not after the action
    return filters, args


def _filters_of(source):
    """``list_of`` for a form's or a link's list: a list that is not one answers 400, saying why."""
    try:
        return list_of(source)
    except ValidationError as err:
        abort(400, _("These filters are not valid: %(errors)s", errors="; ".join(
            f"{field}: {' '.join(_messages({field: messages}))}" for field, messages in err.messages.items())))
    except BadQuery as err:
        abort(400, _("These filters are not valid: %(errors)s", errors=str(err)))


def next_in_list(report, filters):
    """The report after ``report`` in the list of ``filters``, in the list's order; None at the end."""
    key, order_desc, _asc = _order(filters)
    value = (report.submission_count, report.id) if filters["sort"] == "most" else report.id
    return db.session.scalar(filtered_reports(filters).where(key < value).order_by(*order_desc).limit(1))


def matching_count(query, filters):
    """How many reports ``query`` (``filtered_reports(filters)``, maybe narrowed) finds,
    counted up to BULK_LIMIT + 1 only: the count a "select all" offers stays cheap at any size
    of the desk. Counted newest first, so the database reads as the list does and stops at
    the cap: unordered, PostgreSQL gathered every match of a common search first (32 ms
    against 2 ms for a prefix in 200,000 reports)."""
    capped = query.with_only_columns(Report.id).order_by(id_key(filters).desc()).limit(BULK_LIMIT + 1).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(capped))


def shown_matching(query, filters):
    """The highest report id on the editor's desk now, and how many of the reports of
    ``query`` (``filtered_reports(filters)``) up to it "select all matching" offers: the bulk
    form carries both back (``SeenSchema``)."""
    newest = db.session.scalar(scoped(sa.select(sa.func.max(Report.id)))) or 0
    return newest, matching_count(query.where(Report.id <= newest), filters)


@bp.get("/reports")
@login_required
def reports():
    schema = ReportFilterSchema()
    # The pager's links keep the filters, and only they: other query args never reach url_for.
    link_args = _list_args(request.args.items(multi=False), paging=False)
    try:
        filters = schema.load(_list_args(request.args.items(multi=False)))
        query = filtered = filtered_reports(filters)
    except (ValidationError, BadQuery) as err:
        errors = err.messages if isinstance(err, ValidationError) else {"q": [str(err)]}
        return render_template("dashboard/reports.html", reports=[], errors=errors, filters={},
                               link_args={}, list_query="", sites=visible_sites(), next_cursor=None,
                               prev_cursor=None, shown=(0, 0)), 400

    sort = filters["sort"]
    size = current_app.config["PAGE_SIZE"]
    key, order_desc, order_asc = _order(filters)

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
                           link_args=link_args, list_query=urlencode(link_args), sites=visible_sites(),
                           next_cursor=next_cursor, prev_cursor=prev_cursor,
                           shown=shown_matching(filtered, filters) if rows else (0, 0), bulk_limit=BULK_LIMIT,
                           page_checks=checks.checks_of(row.id for row in rows))


def apply_action(item, action):
    """One action on one report, through the model's lifecycle (each audited): the one path
    for the list's rows, a report's page and the bulk actions. Answers how many senders a spam
    close blocked (None: it blocked none)."""
    editor = current_user._get_current_object()
    kind, blocked = action["action"], None
    if kind == "confirm":
        item.confirm(by=editor)
    elif kind == "close":
        # The model refuses a report of another site, so another site's report never shows through.
        duplicate_of = action["duplicate_of"] if action["resolution"] == "duplicate" else None
        item.close(action["resolution"], by=editor, duplicate_of=duplicate_of)
        if action.get("block_hours"):
            blocked = blocks.block_sender(item, action["block_hours"], by=editor)
    elif kind == "reopen":
        item.reopen(by=editor)
    elif kind == "assign":
        item.assign(editor, by=editor)
    elif kind == "unassign":
        item.assign(None, by=editor)
    if action.get("note"):
        item.add_note(action["note"], by=editor)
    return blocked


def _done(action, blocked=None):
    kind = action["action"]
    if blocked is not None:  # "Spam and block" blocks every sender of the report: say how many
        return ngettext("Closed as spam; %(num)d sender blocked on this site for %(length)s.",
                        "Closed as spam; %(num)d senders blocked on this site for %(length)s.",
                        blocked, length=blocks.block_length(action["block_hours"]))
    if kind == "close":
        return {"fixed": _("Closed as fixed."), "not_an_error": _("Closed as not an error."),
                "spam": _("Closed as spam."),
                "duplicate": _("Closed as a duplicate of #%(id)s.", id=action["duplicate_of"])}[action["resolution"]]
    return {"confirm": _("Confirmed."), "reopen": _("Reopened."), "note": _("Note added."),
            "assign": _("Assigned to you."), "unassign": _("Unassigned.")}[kind]


@bp.post(f"/reports/<{ID}:report_id>/action")
@login_required
def report_action(report_id):
    """One action on one report. A plain form post answers with a redirect and a flash: to
    the list it came from (``back=list``), to the next report of that list (``list``), or to
    the report. ``Accept: application/json`` (dashboard.js) answers JSON instead: the
    report, or ``{"error"}`` with 409 (changed meanwhile) or 422 (refused)."""
    wants_json = request.accept_mimetypes.best == "application/json"
    item = report_or_404(report_id)

    def refuse(message, status):
        if wants_json:
            return jsonify(error=message), status
        flash(message, "error")
        return redirect(url_for("dashboard.report", report_id=item.id))

    try:
        action = ReportActionSchema().load(form_data(request.form))
        # Read as sent: an empty expected_assignee (nobody held it) is a value, not absent.
        expected_assignee = SeenSchema().load(request.form)["expected_assignee"]
        # The list's query string may be empty (the default list): present, not absent.
        list_query = request.form.get("list")
        came_from = list_of(list_query) if list_query is not None else None
    except ValidationError as err:
        return refuse(" ".join(f"{field}: {' '.join(str(m) for m in messages)}"
                               for field, messages in err.messages.items()), 422)
    except BadQuery as err:
        return refuse(str(err), 422)
    try:
        # Locked: an action by another editor in the same instant is seen, not overwritten. FOR NO
        # KEY UPDATE, as an UPDATE takes: a reader's new report naming this one waits for nothing.
        db.session.refresh(item, with_for_update={"key_share": True})
        if action["expected_status"] and action["expected_status"] != item.status:
            return refuse(_("Someone changed this report to “%(status)s” meanwhile; nothing was changed.",
                            status=item.status), 409)
        # Only the assignment actions act on who holds the report; the others are checked by status.
        if (action["action"] in ("assign", "unassign") and expected_assignee is not None
                and (int(expected_assignee) if expected_assignee else None) != item.assignee_id):
            if item.assignee is None:
                return refuse(_("Someone unassigned this report meanwhile; nothing was changed."), 409)
            return refuse(_("This report was assigned to %(name)s meanwhile; nothing was changed.",
                            name=item.assignee.display_name), 409)
        try:
            blocked = apply_action(item, action)
        except Refused as refused:
            db.session.rollback()
            return refuse(str(refused), 422)
        db.session.commit()
    except OperationalError as err:
        if not held_elsewhere(err):
            raise
        db.session.rollback()
        return refuse(_("Other changes held this report at that moment; nothing was changed. Act again."), 409)
    forget_status_counts()
    message = _done(action, blocked)

    if wants_json:
        answer = {"report": {"id": item.id, "status": item.status, "resolution": item.resolution,
                             "assignee": item.assignee.display_name if item.assignee else None},
                  "message": message}
        if came_from:
            filters, args = came_from
            answer["in_list"] = db.session.scalar(
                filtered_reports(filters).where(Report.id == item.id).with_only_columns(Report.id)) is not None
            if answer["in_list"]:
                row = get_template_attribute("dashboard/_actions.html", "report_row")
                answer["row"] = str(row(item, checks.checks_of([item.id]).get(item.id), urlencode(args)))
        return jsonify(answer)

    flash(message)
    if came_from is None:
        return redirect(url_for("dashboard.report", report_id=item.id))
    filters, args = came_from
    if action["back"] == "list":
        return redirect(url_for("dashboard.reports", **args))
    following = next_in_list(item, filters)
    if following is None:
        return redirect(url_for("dashboard.reports", **args))
    return redirect(url_for("dashboard.report", report_id=following.id, list=list_query))


@bp.get(f"/reports/<{ID}:report_id>/next")
@login_required
def report_next(report_id):
    """The report after this one in the list the editor came from (``list=``), or that list."""
    item = report_or_404(report_id)
    list_query = request.args.get("list", "")
    try:
        filters, args = list_of(list_query)
    except (ValidationError, BadQuery):
        abort(400, _("This is not a list of reports the desk can show."))
    following = next_in_list(item, filters)
    if following is None:
        flash(_("That was the last report of the list."))
        return redirect(url_for("dashboard.reports", **args))
    return redirect(url_for("dashboard.report", report_id=following.id, list=list_query))


def _messages(errors):
    """marshmallow's messages flattened (a list field's nest them by index)."""
    for messages in errors.values():
        if isinstance(messages, dict):
            yield from _messages(messages)
        else:
            yield from (str(message) for message in messages)


# PostgreSQL's deadlock, lock not available and serialization failure: the moment's conflict
# with another transaction (a reader's send takes the same stats rollup rows), not the report's.
HELD_ELSEWHERE = frozenset({"40P01", "55P03", "40001"})


def held_elsewhere(err):
    """Whether ``err`` (an OperationalError) is PostgreSQL giving up a report's statement to
    another transaction holding its rows: acting again later succeeds."""
    return getattr(err.orig, "sqlstate", None) in HELD_ELSEWHERE


@bp.post("/reports/bulk")
@login_required
def reports_bulk():
    """One action on the reports ticked in the list, or on all matching its filter (at most
    BULK_LIMIT a click, in the list's order: a click stays one short transaction). Each goes
    through the model (audited) under a row lock; a ticked report whose status changed since
    the list was shown, or that no longer matches, is left as it is and counted, and so is one
    PostgreSQL gave up on to another transaction holding its rows (``held_elsewhere``)."""
    try:
        bulk = ReportBulkSchema().load({**form_data(request.form), "report": request.form.getlist("report")})
        seen = SeenSchema().load(form_data(request.form))
    except ValidationError as err:
        abort(400, " ".join(_messages(err.messages)))
    if bulk["action"] == "close" and bulk["duplicate_of"] and bulk["resolution"] != "duplicate":
        abort(400, _("A number in “duplicate of #” closes the reports as its duplicates: choose “duplicate”, "
                     "or clear the number."))
    filters, link_args = _filters_of(bulk["list"])
    _key, order_desc, _asc = _order(filters)
    if bulk["all_matching"]:
        if seen["seen_newest"] is None or seen["seen_matching"] is None:
            abort(400, _("This form does not say which reports the list showed: reload the list and act again."))
        # Reports filed since the list was shown are never in "all matching"; any other change
        # to what matches (counted up to BULK_LIMIT + 1) refuses the whole click.
        shown = filtered_reports(filters).where(Report.id <= seen["seen_newest"])
        if matching_count(shown, filters) != seen["seen_matching"]:
            flash(_("Nothing was changed: the reports matching this filter changed since the list was shown. "
                    "Here is the list as it is now; act again if it is still right."), "error")
            return redirect(url_for("dashboard.reports", **link_args))
        chosen = shown.order_by(*order_desc).limit(BULK_LIMIT)
    else:
        chosen = scoped(sa.select(Report).where(Report.id.in_(bulk["report"]))).order_by(Report.id)
    try:
        items = db.session.scalars(chosen.with_for_update(of=Report, key_share=True)).all()
    except OperationalError as err:
        if not held_elsewhere(err):
            raise
        db.session.rollback()
        flash(_("Nothing was changed: other changes held these reports at that moment. Act again."), "error")
        return redirect(url_for("dashboard.reports", **link_args))
    if not bulk["all_matching"]:
        expected = bulk["expected"]
        fresh = [item for item in items if expected.get(item.id) == item.status]
    else:
        fresh = items
    stale = (len(items) - len(fresh)) + (0 if bulk["all_matching"] else len(set(bulk["report"])) - len(items))
    taken = []
    if bulk["action"] == "assign":  # "assign to me" never takes a report from a colleague
        taken = [item for item in fresh if item.assignee_id not in (None, current_user.id)]
        fresh = [item for item in fresh if item not in taken]
    done, refusals, held = 0, [], 0
    for item in fresh:
        try:
            with db.session.begin_nested():  # a refused one undoes only its own changes
                apply_action(item, bulk)
            done += 1
        except Refused as refused:
            refusals.append(f"#{item.id}: {refused}")
        except OperationalError as err:
            if not held_elsewhere(err):
                raise
            # Rolled back to its savepoint, which expires the report and drops its new events:
            # the transaction goes on, and the commit writes nothing of this one.
            held += 1
    db.session.commit()
    forget_status_counts()
    flash(ngettext("Done for %(num)d report.", "Done for %(num)d reports.", done))
    if stale:
        flash(ngettext("%(num)d report left as it was: it changed since the list was shown.",
                       "%(num)d reports left as they were: they changed since the list was shown.", stale), "error")
    if taken:
        flash(ngettext("%(num)d report left: assigned to someone else.",
                       "%(num)d reports left: assigned to someone else.", len(taken)), "error")
    if held:
        flash(ngettext("%(num)d report left as it was: other changes held it at that moment. Act again for it.",
                       "%(num)d reports left as they were: other changes held them at that moment. "
                       "Act again for them.", held), "error")
    if refusals:
        flash(_("Refused: %(reasons)s", reasons=" ".join(refusals)), "error")
    if bulk["all_matching"] and len(items) == BULK_LIMIT:
        flash(_("At most %(limit)d reports at a time: act again for the rest.", limit=BULK_LIMIT))
    return redirect(url_for("dashboard.reports", **link_args))


# --- Page checks (is the error still on the page?) --------------------------------------

bp.add_app_template_global(fragments.page_link, "page_link")
bp.add_app_template_global(checks.STATE_SAYS, "CHECK_STATE_SAYS")
bp.add_app_template_global(CHECK_FILTERS, "CHECK_FILTERS")
bp.add_app_template_global(BLOCK_HOURS, "BLOCK_HOURS")

# The words each row of the list repeats (templates/dashboard/_actions.html). Looked up once
# per request, not per row: 50 rows asked for them a thousand times, a third of the list's
# server time.
ROW_WORDS = {
    "confirm": lazy_gettext("Confirm"), "fixed": lazy_gettext("Fixed"),
    "not_an_error": lazy_gettext("Not an error"), "spam": lazy_gettext("Spam"),
    "block_for": lazy_gettext("and block the sender for"), "no_block": lazy_gettext("no block"),
    "duplicate_of": lazy_gettext("Duplicate of #"), "close_duplicate": lazy_gettext("Close as duplicate"),
    "reopen": lazy_gettext("Reopen"), "unassign": lazy_gettext("Unassign me"),
    "assign": lazy_gettext("Assign to me"), "open_on_page": lazy_gettext("Open on page"),
    "page": lazy_gettext("Page"), "reports": lazy_gettext("Reports"), "status": lazy_gettext("Status"),
    "page_check": lazy_gettext("Page check"), "actions": lazy_gettext("Actions"),
    # With |format(...) in the templates; the values are escaped as they are put in.
    "select_report": lazy_gettext("Select report #%(id)s"), "report_number": lazy_gettext("Report #%(id)s"),
    "assigned_to": lazy_gettext("Assigned to %(name)s"),
    "status_resolution": lazy_gettext("%(status)s: %(resolution)s"),
}


@bp.app_template_global()
def row_words():
    """ROW_WORDS, the labels of statuses, resolutions and page check states, and the spam
    form's block lengths (its options), in the language in force: translated once per request and
    language, where the rows of a list asked for them a thousand times."""
    language = get_locale()
    known = g.setdefault("copydesk_row_words", {})
    if language not in known:
        known[language] = SimpleNamespace(
            **{name: str(text) for name, text in ROW_WORDS.items()},
            statuses={name: str(text) for name, text in STATUS_LABELS.items()},
            resolutions={name: str(text) for name, text in RESOLUTION_LABELS.items()},
            check_states={name: str(text) for name, text in checks.STATE_LABELS.items()},
            block_options=Markup("").join(Markup('<option value="{}">{}</option>').format(hours, blocks.block_length(hours))
                                          for hours in BLOCK_HOURS))
    return known[language]


# Macros imported without the page's context (and rendered for JSON answers) still know the editor.
bp.add_app_template_global(current_user, "current_user")
bp.add_app_template_filter(checks.word_diff, "word_diff")


@bp.post(f"/reports/<{ID}:report_id>/check")
@login_required
def report_check(report_id):
    """Check the page now, in the request (the fetch gives up after 5 seconds)."""
    item = report_or_404(report_id)
    state = checks.check_report(item)
    forget_status_counts()  # a reverted fix reopens the report
    flash(_("Checked the page: %(finding)s", finding=checks.STATE_SAYS[state]))
    return redirect(url_for("dashboard.report", report_id=item.id))


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
        flash(_("Nothing to queue: the reports of this filter are queued for a check already."))
    else:
        flash(ngettext("Queued %(num)d report for a page check, those checked longest ago first. The background "
                       "worker checks them within minutes; reload to see.",
                       "Queued %(num)d reports for a page check, those checked longest ago first. The background "
                       "worker checks them within minutes; reload to see.", queued))
        if len(ids) == BULK_LIMIT:
            flash(_("At most %(limit)d at a time: queue the next ones when these are done.", limit=BULK_LIMIT))
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
        abort(400, _("Confirm 1 to %(limit)d reports from the list of reports to close.", limit=BULK_LIMIT))
    # Locked (FOR NO KEY UPDATE): another editor closing or reopening one meanwhile is seen, not overwritten.
    still = db.session.scalars(
        scoped(sa.select(Report)).where(Report.id.in_(ids), Report.status != "closed", checks.state_is("changed"))
        .order_by(Report.id).with_for_update(of=Report, key_share=True)).all()
    for item in still:
        item.close("fixed", by=current_user._get_current_object())
    db.session.commit()
    forget_status_counts()
    left = len(set(ids)) - len(still)
    message = ngettext("Closed %(num)d report as fixed.", "Closed %(num)d reports as fixed.", len(still))
    if left:  # two whole sentences, each translated on its own
        message += " " + _("%(num)d left as they were: closed or checked again meanwhile.", num=left)
    flash(message)
    return redirect(url_for("dashboard.reports", **link_args))
