"""The desk's figures for the stats page: reports filed per day by status, how fast
editors act and fix, where open reports are, the most reported pages and how many
closed reports were not errors or spam.

Every function takes ``site_ids``: None for every site, else the sites to count (the
dashboard passes ``visible_site_ids()`` or the one site asked for). Days are UTC days.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic

import sqlalchemy as sa
from flask import current_app

from .db import db
from .extensions import remembered
from .models import STATUSES, Event, Report, Site, utcnow

PERIODS = (30, 90, 365)
OPEN = ("new", "confirmed")
# An editor's event that counts as acting on a report: anything but the desk's own.
ACTIONS = ("status", "resolution", "assignee", "note")
# Percentiles shown for each duration.
PERCENTILES = (50, 90)
# Durations are measured over the period's latest reports, at most this many: nearest-rank
# p90 of 2,000 is within about a percentile point, and the planners then read the newest
# reports along the index on created_at (and their events by report) instead of a year's.
LATEST = 2000
TOP = 10
# Figures are kept this long per process, an extra: counted afresh they take well under
# 200 ms at a million submissions (bench/stats.py), from the rollups of migration 0011.
KEEP_SECONDS = 60


def first_day(days, today=None):
    """The first day of a period of ``days`` days that ends today."""
    return (today or utcnow().date()) - timedelta(days=days - 1)


def _in_sites(query, site_ids, column=Report.site_id):
    return query if site_ids is None else query.where(column.in_(site_ids))


def _seconds_between(later, earlier):
    """``later - earlier`` in seconds, in the SQL of the session's database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400


@dataclass
class Day:
    day: date
    counts: dict  # {status: reports filed that day, by their status now}

    @property
    def total(self):
        return sum(self.counts.values())


# The rollups migration 0011's triggers keep (no models: no code writes them). Reports per
# site, day filed, status and resolution ("": none); open reports per site and page, and
# per site, section and author. A year across every site is a few thousand rows, not every report.
report_day = sa.table("report_day", sa.column("site_id", sa.Integer), sa.column("day", sa.Date),
                      sa.column("status", sa.String), sa.column("resolution", sa.String),
                      sa.column("reports", sa.Integer))
report_open_page = sa.table("report_open_page", sa.column("site_id", sa.Integer), sa.column("page_key", sa.Text),
                            sa.column("reports", sa.Integer))
report_open_by = sa.table("report_open_by", sa.column("site_id", sa.Integer), sa.column("article_section", sa.String),
                          sa.column("article_author", sa.String), sa.column("reports", sa.Integer))


def reports_per_day(site_ids, since):
    """(days, closed): a ``Day`` for every day from ``since`` to today, and the reports
    filed since then and now closed, by resolution. Read from the daily rollup."""
    rollup = report_day.c
    query = _in_sites(sa.select(rollup.day, rollup.status, rollup.resolution, sa.func.sum(rollup.reports))
                      .where(rollup.day >= since), site_ids, rollup.site_id)
    by_day, closed = {}, {}
    for filed, status, resolution, count in db.session.execute(
            query.group_by(rollup.day, rollup.status, rollup.resolution)):
        filed = filed if isinstance(filed, date) else date.fromisoformat(filed)  # SQLite: text
        counts = by_day.setdefault(filed, dict.fromkeys(STATUSES, 0))
        counts[status] = counts.get(status, 0) + count
        if status == "closed":
            closed[resolution or None] = closed.get(resolution or None, 0) + count
    today = utcnow().date()
    days = [Day(since + timedelta(days=n), by_day.get(since + timedelta(days=n), dict.fromkeys(STATUSES, 0)))
            for n in range((today - since).days + 1)]
    return days, closed


@dataclass
class Duration:
    reports: int  # how many reports the figures are over
    percentiles: dict  # {50: seconds, 90: seconds}; empty when no report counts


def _percentiles(durations):
    """Nearest-rank percentiles of the ``seconds`` column of a query (NULL: no such
    duration, not counted), in one sorted pass."""
    # The LIMIT (never reached: LATEST reports at most) keeps PostgreSQL from merging the
    # query into this one, which would compute each duration once per use below.
    rows = durations.limit(LATEST).subquery()
    ranked = sa.select(rows.c.seconds, sa.func.row_number().over(order_by=rows.c.seconds.asc().nulls_last())
                       .label("rank"), sa.func.count(rows.c.seconds).over().label("n")).subquery()
    wanted = {p: (ranked.c.n * p + 99) // 100 for p in PERCENTILES}
    query = sa.select(ranked.c.seconds, ranked.c.rank, ranked.c.n, *wanted.values()).where(
        sa.or_(*(ranked.c.rank == rank for rank in wanted.values())))
    found, reports = {}, 0
    for seconds, rank, n, *ranks in db.session.execute(query):
        reports = n
        for p, wanted_rank in zip(PERCENTILES, ranks):
            if rank == wanted_rank:
                found[p] = float(seconds)
    return Duration(reports, found)


def _latest(site_ids, since, *conditions):
    """The latest LATEST reports filed since ``since`` (and meeting ``conditions``), read
    backwards along the index on created_at: the scan stops at LATEST."""
    query = (sa.select(Report.id, Report.created_at)
             .where(Report.created_at >= datetime.combine(since, time.min), *conditions)
             .order_by(Report.created_at.desc()).limit(LATEST))
    return _in_sites(query, site_ids).subquery()


def time_to_first_action(site_ids, since):
    """From filing to an editor's first event, over those of the latest LATEST reports
    filed since ``since`` that an editor acted on."""
    latest = _latest(site_ids, since)
    # Per report, not joined: each report's few events are read through the index on
    # event.report_id, where a join may choose to read every event there is.
    first = (sa.select(sa.func.min(Event.created_at))
             .where(Event.report_id == latest.c.id, Event.editor_id.is_not(None), Event.kind.in_(ACTIONS),
                    Event.created_at >= latest.c.created_at).scalar_subquery())
    return _percentiles(sa.select(_seconds_between(first, latest.c.created_at).label("seconds")))


def time_to_fixed(site_ids, since):
    """From filing to the close as fixed that stands, over the latest LATEST reports
    filed since ``since`` and fixed now."""
    latest = _latest(site_ids, since, Report.status == "closed", Report.resolution == "fixed")
    closed = (sa.select(sa.func.max(Event.created_at))
              .where(Event.report_id == latest.c.id, Event.kind == "resolution", Event.to_value == "fixed")
              .scalar_subquery())
    return _percentiles(sa.select(_seconds_between(closed, latest.c.created_at).label("seconds")))


@dataclass
class OpenReports:
    by_site: list  # [(site name, open reports)], most first
    by_section: list  # [(section, open reports)], the TOP most; "": the page did not say
    by_author: list  # the same for authors


def _most(counts):
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def open_reports(site_ids):
    """Where the open reports are: by site, and the TOP sections and authors, each summed in
    the database from the open rollup."""
    rollup = report_open_by.c
    names = dict(db.session.execute(_in_sites(sa.select(Site.id, Site.name), site_ids, Site.id)).all())

    def most(column, top=None):
        count = sa.func.sum(rollup.reports)
        query = _in_sites(sa.select(column, count).group_by(column), site_ids, rollup.site_id)
        return db.session.execute(query.order_by(count.desc(), column).limit(top)).all()

    by_site = _most({names[site_id]: count for site_id, count in most(rollup.site_id)})
    return OpenReports(by_site, [tuple(row) for row in most(rollup.article_section, TOP)],
                       [tuple(row) for row in most(rollup.article_author, TOP)])


@dataclass
class Page:
    site_id: int
    url: str
    reports: int  # open reports on the page

    @property
    def row(self):
        return (self.url, self.reports)


def top_pages(site_ids):
    """The TOP pages with the most open reports (the article view's pages), from the top of
    the open rollup's index."""
    rollup = report_open_page.c
    query = (sa.select(rollup.site_id, rollup.page_key, rollup.reports)
             .order_by(rollup.reports.desc(), rollup.page_key).limit(TOP))
    return [Page(*row) for row in db.session.execute(_in_sites(query, site_ids, rollup.site_id))]


@dataclass
class DeskStats:
    days: list
    closed: dict
    first_action: Duration
    fixed: Duration
    open: OpenReports
    pages: list
    counted_at: datetime

    @property
    def closed_total(self):
        return sum(self.closed.values())

    def share_closed(self, resolution):
        """The share (0..1) of the period's closed reports closed with ``resolution``."""
        return self.closed.get(resolution, 0) / self.closed_total if self.closed_total else 0.0

    @property
    def busiest_day(self):
        return max((day.total for day in self.days), default=0)


def desk_stats(site_ids, days):
    """The stats page's figures for these sites over the last ``days`` days, counted at
    most every KEEP_SECONDS per process for the same sites and period."""
    return remembered("copydesk.stats", (None if site_ids is None else tuple(sorted(site_ids)), days), KEEP_SECONDS,
                      lambda: compute_stats(site_ids, days), monotonic())


def forget_stats():
    current_app.extensions.pop("copydesk.stats", None)


def compute_stats(site_ids, days):
    since = first_day(days)
    per_day, closed = reports_per_day(site_ids, since)
    return DeskStats(days=per_day, closed=closed,
                     first_action=time_to_first_action(site_ids, since), fixed=time_to_fixed(site_ids, since),
                     open=open_reports(site_ids), pages=top_pages(site_ids), counted_at=utcnow())
