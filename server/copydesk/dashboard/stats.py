"""Where errors come from and how fast they are fixed: the stats page."""

from datetime import timedelta

from flask import abort, render_template, request
from flask_babel import format_number, format_percent, format_timedelta
from flask_babel import gettext as _
from flask_login import login_required

from ..schemas import parse_whole_number
from ..stats import LATEST, PERIODS, desk_stats
from . import bp, site_or_404, visible_site_ids, visible_sites


def _site_asked():
    """The site in ``?site=`` (None: every site the editor sees); 400 if not an id, 404
    if not theirs."""
    value = request.args.get("site", "")
    if value == "":
        return None
    number = parse_whole_number(value, low=1)
    if number is None:
        abort(400, _("A site is chosen by its number."))
    return site_or_404(number)


def _days_asked():
    value = request.args.get("days", str(PERIODS[0]))
    if value not in [str(days) for days in PERIODS]:
        abort(400, _("A period is 30, 90 or 365 days."))
    return int(value)


def duration(seconds):
    """A duration as editors read it: "3 hours", "2 days"."""
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5)


def stacked_bar_paths(days, statuses, left, step, baseline, scale, bar_width):
    """{status: SVG path data}: for each day from ``left`` on, a rectangle per status
    ``scale`` high per report, stacked up from ``baseline`` in the order of ``statuses``."""
    paths = {status: [] for status in statuses}
    for n, day in enumerate(days):
        y = baseline
        for status in statuses:
            if day.counts.get(status):
                height = day.counts[status] * scale
                y -= height
                paths[status].append(f"M{left + n * step:.2f} {y:.2f}h{bar_width:.2f}v{height:.2f}h-{bar_width:.2f}z")
    return {status: "".join(parts) for status, parts in paths.items()}


@bp.get("/stats")
@login_required
def stats():
    site, days = _site_asked(), _days_asked()
    figures = desk_stats([site.id] if site else visible_site_ids(), days)
    return render_template("dashboard/stats.html", figures=figures, site=site, days=days, periods=PERIODS,
                           sites=visible_sites(), duration=duration, percent=format_percent,
                           latest=format_number(LATEST), stacked_bar_paths=stacked_bar_paths)
