"""The article view: every report on one page (or one article id) with counts per status,
and the pages ordered by their open reports."""

import re
from time import monotonic

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from ..db import db
from ..extensions import remembered
from ..models import RESOLUTIONS, Report
from ..schemas import MAX_ID, parse_whole_number
from ..text import storable
from . import bp, scoped, site_or_404, visible_site_ids, visible_sites

OPEN = ("new", "confirmed")
# Offset paging of the pages list: deeper than this, a site filter is the way on.
MAX_START = 10_000
# How long the ranking of pages is reused, and for how many scopes at most.
PAGES_SECONDS = 10
PAGES_CACHED = 256
# The article view's cursor: the last row's status and id, in its order (new, confirmed, closed).
CURSOR = re.compile(r"(new|confirmed|closed):([0-9]{1,10})")


def _number(name, low, high):
    """An optional whole-number query argument; anything else is a 400 saying which."""
    value = request.args.get(name, "")
    if value == "":
        return None
    number = parse_whole_number(value, low, high)
    if number is None:
        abort(400, _("“%(name)s” must be a whole number from %(low)d to %(high)d.", name=name, low=low, high=high))
    return number


def _text(name, longest):
    value = request.args.get(name, "")
    if len(value) > longest or not storable(value):
        abort(400, _("“%(name)s” is not a page or article this desk could have.", name=name))
    return value


def ranked_pages(site_id, start, limit):
    """(site_id, page_key, open_reports, latest_id) of the pages with open reports, most
    first, as the current editor may see them; remembered for PAGES_SECONDS per process:
    ranking every page reads every open report (0.2 s at 140,000 open pages on SQLite), and
    the list is read far more often than a page gains or loses its rank."""
    ids = visible_site_ids()

    def rank():
        open_reports = sa.func.count().label("open_reports")
        latest = sa.func.max(Report.id).label("latest_id")
        query = scoped(sa.select(Report.site_id, Report.page_key, open_reports, latest)
                       .where(Report.status.in_(OPEN)).group_by(Report.site_id, Report.page_key))
        if site_id:
            query = query.where(Report.site_id == site_id)
        return db.session.execute(query.order_by(open_reports.desc(), latest.desc()).offset(start).limit(limit)).all()

    return remembered("copydesk.ranked_pages", (None if ids is None else tuple(ids), site_id, start, limit),
                      PAGES_SECONDS, rank, monotonic(), most=PAGES_CACHED)


@bp.get("/articles")
@login_required
def articles():
    """Pages with open reports, most open reports first (then the latest reported)."""
    site_id = _number("site", 1, MAX_ID)
    site = site_or_404(site_id) if site_id else None
    start = _number("start", 0, MAX_START) or 0
    size = current_app.config["PAGE_SIZE"]
    rows = ranked_pages(site.id if site else None, start, size + 1)
    more = len(rows) > size
    rows = rows[:size]
    # Each page as its latest open report names it (title, address).
    latest_reports = {report.id: report for report in db.session.scalars(
        sa.select(Report).where(Report.id.in_([row.latest_id for row in rows])).options(so.selectinload(Report.site)))}
    # A report deleted since the ranking was remembered takes its row along.
    pages = [(latest_reports[row.latest_id], row.open_reports) for row in rows if row.latest_id in latest_reports]
    return render_template("dashboard/articles.html", pages=pages, site=site, sites=visible_sites(), start=start,
                           size=size, next_start=start + size if more and start + size <= MAX_START else None)


def _counts(condition):
    """How many reports are new, confirmed, and closed by each resolution."""
    counts = {"new": 0, "confirmed": 0, "closed": dict.fromkeys(RESOLUTIONS, 0)}
    rows = db.session.execute(sa.select(Report.status, Report.resolution, sa.func.count())
                              .where(condition).group_by(Report.status, Report.resolution))
    for status, resolution, number in rows:
        if status == "closed":
            counts["closed"][resolution] = counts["closed"].get(resolution, 0) + number
        else:
            counts[status] = counts.get(status, 0) + number
    return counts


def _cursor(value):
    """The last row's (status, id) a later page of the article view starts after."""
    if not value:
        return None
    match = CURSOR.fullmatch(value)
    if not match or int(match[2]) > MAX_ID:
        abort(400, _("This page of reports does not exist: go back to the first one."))
    return match[1], int(match[2])


@bp.get("/article")
@login_required
def article():
    """Every report on one page (``page``: its page key) or one article (``article_id``) of
    a site, open ones first, newest first within each status; paged by a cursor."""
    site_id = _number("site", 1, MAX_ID)
    page_key, article_id = _text("page", 4000), _text("article_id", 200)
    if site_id is None or bool(page_key) == bool(article_id):
        abort(400, _("Name a site and either a page or an article id."))
    after = _cursor(request.args.get("after", ""))
    site = site_or_404(site_id)
    if page_key:
        condition = sa.and_(Report.site_id == site.id, Report.page_key == page_key)
    else:
        # article_id <> '' lets the partial index on article ids serve the query.
        condition = sa.and_(Report.site_id == site.id, Report.article_id == article_id, Report.article_id != "")
    counts = _counts(condition)
    total = counts["new"] + counts["confirmed"] + sum(counts["closed"].values())
    if not total:
        abort(404, _("No report was filed on this page."))

    query = sa.select(Report).where(condition)
    if after:
        query = query.where(sa.tuple_(Report.status, Report.id) < after)
    size = current_app.config["PAGE_SIZE"]
    # new > confirmed > closed, alphabetically too: descending puts open reports first.
    reports = db.session.scalars(query.order_by(Report.status.desc(), Report.id.desc()).limit(size + 1)).all()
    next_after = f"{reports[size - 1].status}:{reports[size - 1].id}" if len(reports) > size else None
    reports = reports[:size]
    newest = db.session.scalar(sa.select(Report).where(condition).order_by(Report.id.desc()).limit(1))
    link_args = {"site": site.id, "page": page_key} if page_key else {"site": site.id, "article_id": article_id}
    return render_template("dashboard/article.html", site=site, page_key=page_key, article_id=article_id,
                           newest=newest, counts=counts, total=total, reports=reports, link_args=link_args,
                           next_after=next_after, first_page=not after)
