"""Is it still there? The desk reads a report's page and finds the reported words again.

``check_report(report)`` fetches the page (``fetch``), reads the article's text as the
widget does (``text``), re-anchors the words (``anchor``) and records a ``PageCheck``.
``run_due()`` is the background worker's hourly job; ``run_requested()`` its every-minute
job for the checks editors asked for (``request_checks``: in bulk, and on closing as fixed).
"""

import difflib
import json
import logging
import time
from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import lazy_gettext

from ..db import db
from ..models import Event, Report, Site, utcnow
from ..notify.models import Job as JobRow
from . import anchor as anchoring
from .anchor import STATES, Result, first_found
from .fetch import FetchError, Refused, fetch_page, user_agent
from .models import CheckRequest, PageCheck
from .text import article_texts, page_title

__all__ = ["REQUESTED_JOB", "STATES", "STATE_LABELS", "STATE_SAYS", "CheckRequest", "PageCheck", "Result",
           "check_report", "checks_of", "due_reports", "fixed_at", "inspect", "is_reverted_fix", "locate",
           "request_checks", "reschedule", "run_due", "run_requested", "state_is", "still_there_after_fix", "word_diff"]

logger = logging.getLogger(__name__)

# The worker's job that checks the reports editors asked about (``run_requested``).
REQUESTED_JOB = "requested checks"
# Open reports are checked as often as their site says (default daily); a fix once more,
# this long after it.
CHECK_EVERY = timedelta(days=1)
AFTER_FIX = timedelta(days=1)
# Fixes older than this when checks began are not checked after the fact.
FIX_WINDOW = timedelta(days=8)
# A failed check ("unknown") is retried after an hour, then 2, 4… hours, at most the period.
RETRY_FIRST = timedelta(hours=1)
# Fewer characters than this in the article and the page is not one the server can read.
MIN_ARTICLE = 500
# The page's title this similar to the one the reader's browser saw: the same article.
TITLE_MATCH = 0.8


def _desk_url():
    from ..notify.messages import desk_address  # the one way links name the desk
    return desk_address()


def inspect(report, allow_private=None, agent=None):
    """The ``Result`` for the report's page now (nothing stored), with the HTTP status.
    ``report`` needs only page_url, site, exact, prefix, suffix and position (the bench
    passes unsaved ones); the settings are read from the app unless given."""
    if allow_private is None:
        allow_private = current_app.config["CHECK_ALLOW_PRIVATE"]
    try:
        page = fetch_page(report.page_url, report.site, agent=agent or user_agent(_desk_url()),
                          allow_private=allow_private)
    except Refused as refusal:
        return Result("unknown", {"reason": str(refusal), "refused": True}), None
    except FetchError as error:
        return Result("unknown", {"reason": str(error)}), None
    if page.gone:
        return Result("page-gone", {"status": page.status}), page.status
    result = locate(page.html, report)
    if page.truncated and result.state != "still-there":
        # Only the beginning was read: the words may be further down.
        result = Result("unknown", {"reason": "The page is larger than 2 MB; only its beginning was read."})
    if page.url != report.page_url.split("#")[0]:
        result = Result(result.state, {**result.detail, "url": page.url})
    return result, page.status


def locate(html, report):
    """Where the report's words are in this page's HTML: the most telling result over the
    texts the widget may have read them from (``text.article_texts``)."""
    result = first_found([anchoring.anchor(text, report.exact, report.prefix, report.suffix, report.position)
                          for text in article_texts(html)])
    if result.detail.get("not_found") and same_article(html, report):
        # Words and surroundings gone from the same article: the passage was rewritten.
        return Result("changed", {"old": report.exact, "new": "", "found": ["title"]})
    return result


def same_article(html, report):
    """Is this still the reported article (its title as the reader's browser read it), with
    text enough that the server did read it (not a page that only JavaScript fills in)?"""
    title = page_title(html)
    return (bool(report.title and title) and anchoring.similarity(title, report.title) >= TITLE_MATCH
            and max(map(len, article_texts(html))) >= MIN_ARTICLE)


def check_report(report, now=None):
    """Check the report's page now, record the outcome, commit; returns the state word.
    ``now``: the time to record (run_due's clock). A change of state goes into the
    report's history as the desk's own Event, and a fix found reverted (``is_reverted_fix``)
    reopens the report, to be announced again like a new one."""
    started = utcnow()
    try:
        result, status = inspect(report)
    except Exception as error:  # noqa: BLE001 - a page that breaks the check is recorded, not retried at once
        # Recorded as unknown (retried later, with backoff): one odd page never stops the
        # worker's round or the queue behind it.
        logger.exception("page check report=%s failed", report.id)
        result, status = Result("unknown", {"reason": f"The check failed on this page ({type(error).__name__})."}), None
    now = now or utcnow()
    check = _record(report, result, status, now)
    _audit(report, check)
    # This check answers the requests made before it began.
    db.session.execute(sa.delete(CheckRequest).where(CheckRequest.report_id == report.id,
                                                     CheckRequest.requested_at <= started))
    db.session.commit()
    logger.info("page check report=%s state=%s", report.id, result.state)
    return result.state


def _period(site):
    """How often the site's open reports are checked (CHECK_EVERY when never: retries only)."""
    return timedelta(hours=site.check_every_hours) if site.check_every_hours else CHECK_EVERY


def _record(report, result, status, now):
    """The report's PageCheck, updated with this outcome (not yet committed)."""
    check = db.session.get(PageCheck, report.id)
    attempts = (check.attempts if check else 0) + 1 if result.state == "unknown" else 0
    period = _period(report.site)
    values = dict(state=result.state, checked_at=now, http_status=status, attempts=attempts,
                  detail_json=json.dumps(result.detail, ensure_ascii=False),
                  next_check_at=now + (min(RETRY_FIRST * 2 ** (attempts - 1), period) if attempts else period))
    if check is None:
        try:
            with db.session.begin_nested():
                check = PageCheck(report_id=report.id, **values)
                db.session.add(check)
            return check
        except sa.exc.IntegrityError:
            # Another process (the worker, a "Check now") recorded this report's first
            # check meanwhile: this newer outcome replaces it.
            check = db.session.get(PageCheck, report.id, populate_existing=True)
    for name, value in values.items():
        setattr(check, name, value)
    return check


def _audit(report, check):
    """The history gets each new state the page is found in (a failed read is no news),
    and a reverted fix reopens the report, by the desk itself (an Event with no editor)."""
    if check.state == "unknown":
        return
    last = db.session.scalar(report.events.select().where(Event.kind == "check")
                             .order_by(Event.id.desc()).limit(1).with_only_columns(Event.to_value))
    if last != check.state:
        db.session.add(Event(report_id=report.id, kind="check", from_value=last, to_value=check.state,
                             created_at=check.checked_at))
    if check.state == "still-there" and report.status == "closed":
        # Read again, locked: an editor may have reopened it while the page was fetched.
        report = db.session.get(Report, report.id, with_for_update=True, populate_existing=True)
        if is_reverted_fix(report, check):
            report.reopen(by=None)
            # Announced again like a new report (the worker's planner picks it up).
            report.notify_due, report.announced_count = True, 0


def still_there_after_fix(report, check):
    """Closed as fixed, and a check since the fix found the words still there."""
    if report.status != "closed" or report.resolution != "fixed" or check is None or check.state != "still-there":
        return False
    fixed = fixed_at(report.id)
    return fixed is not None and check.checked_at >= fixed


def request_checks(report_ids, now=None):
    """Queue these reports' pages for the worker's ``run_requested`` (those not queued
    already) and bring that job forward, so a worker starts on them within seconds.
    Not committed: the caller's transaction (closing a report, a bulk action) commits it.
    Returns how many were queued."""
    now = now or utcnow()
    ids = list(report_ids)
    if not ids:
        return 0
    queued = sa.insert(CheckRequest).from_select(
        ["report_id", "requested_at"],
        sa.select(Report.id, sa.literal(now, sa.DateTime)).where(
            Report.id.in_(ids), ~sa.exists().where(CheckRequest.report_id == Report.id)))
    try:
        with db.session.begin_nested():
            count = len(db.session.execute(queued.returning(CheckRequest.report_id)).all())
    except sa.exc.IntegrityError:
        count = 0  # another editor queued them in the same instant: queued all the same
    db.session.execute(sa.update(JobRow).where(JobRow.name == REQUESTED_JOB, JobRow.next_run_at > now)
                       .values(next_run_at=now))
    return count


def run_requested(limit=100, budget_seconds=50):
    """The worker's "requested checks" job (every minute, sooner when brought forward):
    check the queued reports, oldest request first, starting none after ``budget_seconds``
    (the rest wait for the next run); returns ``{report_id: state}``."""
    started = time.monotonic()
    outcomes = {}
    ids = db.session.scalars(sa.select(CheckRequest.report_id)
                             .order_by(CheckRequest.requested_at, CheckRequest.report_id).limit(limit)).all()
    for report_id in ids:
        outcomes[report_id] = check_report(db.session.get(Report, report_id))
        if time.monotonic() - started >= budget_seconds:
            break
    return outcomes


def reschedule(site, now=None):
    """After the site's period changed: no open report of it waits longer than the new one.
    Not committed."""
    if not site.check_every_hours:
        return
    cap = (now or utcnow()) + timedelta(hours=site.check_every_hours)
    db.session.execute(sa.update(PageCheck).where(
        PageCheck.report_id.in_(sa.select(Report.id).where(Report.site_id == site.id)),
        PageCheck.next_check_at > cap).values(next_check_at=cap))


def fixed_at(report_id):
    """When the report was last closed as fixed (its audit trail), or None."""
    return db.session.scalar(sa.select(sa.func.max(Event.created_at)).where(
        Event.report_id == report_id, Event.kind == "resolution", Event.to_value == "fixed"))


def due_reports(now=None, limit=500):
    """Reports whose page is due a check: open ones not checked for their site's period
    (a failed check sooner; none on a site whose period is 0), and ones closed as fixed a
    day ago not checked since then. Oldest first."""
    now = now or utcnow()
    open_due = db.session.scalars(
        sa.select(Report).join(Report.site).outerjoin(PageCheck, PageCheck.report_id == Report.id)
        .where(Report.status != "closed", Site.check_every_hours > 0,
               sa.or_(PageCheck.report_id.is_(None), PageCheck.next_check_at <= now))
        .order_by(PageCheck.next_check_at.is_not(None), PageCheck.next_check_at, Report.id)
        .limit(limit)).all()
    fixes = sa.select(Event.report_id, sa.func.max(Event.created_at).label("fixed_at")).where(
        Event.kind == "resolution", Event.to_value == "fixed").group_by(Event.report_id).subquery()
    recent_fixes = db.session.execute(
        sa.select(Report, fixes.c.fixed_at, PageCheck.checked_at)
        .join(fixes, fixes.c.report_id == Report.id)
        .outerjoin(PageCheck, PageCheck.report_id == Report.id)
        .where(Report.status == "closed", Report.resolution == "fixed",
               fixes.c.fixed_at <= now - AFTER_FIX, fixes.c.fixed_at > now - FIX_WINDOW)
        .order_by(fixes.c.fixed_at)).all()
    fixed_due = [report for report, fixed, checked in recent_fixes
                 if checked is None or checked < fixed + AFTER_FIX]
    return (open_due + fixed_due)[:limit]


def is_reverted_fix(report, check):
    """A report closed as fixed whose words are back where they were, as the check a day
    after the fix found (for the round that reopens such reports)."""
    if report.status != "closed" or report.resolution != "fixed" or check is None:
        return False
    fixed = fixed_at(report.id)
    return check.state == "still-there" and fixed is not None and check.checked_at >= fixed + AFTER_FIX


def run_due(now=None, limit=500, budget_seconds=120):
    """The worker's hourly job: check the reports due (``due_reports``), at most ``limit``,
    starting no new check once ``budget_seconds`` have passed, so the worker's other work
    is not held up for long (the rest are due next time); returns ``{report_id: state}``."""
    started = time.monotonic()
    outcomes = {}
    for report in due_reports(now, limit):
        outcomes[report.id] = check_report(report, now)
        if time.monotonic() - started >= budget_seconds:
            break
    return outcomes


# What each state means, for the dashboard (a flash after "Check now", the report page).
STATE_SAYS = {
    "still-there": lazy_gettext("The reported words are still on the page."),
    "changed": lazy_gettext("The reported words have changed on the page: likely fixed."),
    "moved": lazy_gettext("The reported words are on the page, in another place."),
    "page-gone": lazy_gettext("The page is gone: it answers “not found”."),
    "unknown": lazy_gettext("The page could not be read; it is tried again later."),
    "unchecked": lazy_gettext("The page has not been checked yet."),
}
# Each state's name in the editor's language, where the list and the report page show it.
STATE_LABELS = {
    "still-there": lazy_gettext("still-there"), "changed": lazy_gettext("changed"), "moved": lazy_gettext("moved"),
    "page-gone": lazy_gettext("page-gone"), "unknown": lazy_gettext("unknown"), "unchecked": lazy_gettext("unchecked"),
}


def state_is(state):
    """A condition on Report: its page's last check found ``state``; "unchecked": never checked."""
    # Aliased: the query it goes into may join PageCheck itself (ordered by when checked).
    last = so.aliased(PageCheck)
    checked = sa.exists().where(last.report_id == Report.id)
    return ~checked if state == "unchecked" else checked.where(last.state == state)


def checks_of(report_ids):
    """{report_id: PageCheck} for these reports (one query for a page of the list)."""
    ids = list(report_ids)
    if not ids:
        return {}
    return {check.report_id: check
            for check in db.session.scalars(sa.select(PageCheck).where(PageCheck.report_id.in_(ids)))}


def word_diff(old, new):
    """The reported words against the words there now, word by word: a list of
    ``(kind, text)``, kind one of "same", "removed", "added" (for <del> and <ins>)."""
    old_words, new_words = old.split(), new.split()
    parts = []
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            parts.append(("same", " ".join(old_words[a_start:a_end])))
            continue
        if a_end > a_start:
            parts.append(("removed", " ".join(old_words[a_start:a_end])))
        if b_end > b_start:
            parts.append(("added", " ".join(new_words[b_start:b_end])))
    return parts
