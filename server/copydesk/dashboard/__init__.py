"""The editors' dashboard: one blueprint, a module per page group (reports, sites,
editors); here what every page shares: roles, navigation counts, error pages."""

from functools import wraps
from time import monotonic

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from ..db import db
from ..extensions import remembered
from ..models import KIND_LABELS, LANGUAGES, RESOLUTIONS, STATUSES, Report, Site
from ..schemas import MAX_ID
from ..text import is_http_url

bp = Blueprint("dashboard", __name__)

# A larger id than the databases hold is a 404, never an overflow.
ID = f"int(max={MAX_ID})"


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


@bp.app_template_filter("linkable")
def linkable(url, site):
    """Only http(s) URLs on one of the site's origins ever become links (the rule intake
    files pages by), even for reports stored before an origin was removed."""
    return bool(url) and is_http_url(url) and site.has_page(url)


@bp.app_context_processor
def _navigation():
    if not current_user.is_authenticated:
        return {}
    return {"status_counts": nav_status_counts(), "RESOLUTIONS": RESOLUTIONS, "KIND_LABELS": KIND_LABELS,
            "LANGUAGES": LANGUAGES}


STATUS_COUNTS_SECONDS = 5


def nav_status_counts():
    """The navigation's counts, recounted at most every few seconds per process and per
    set of visible sites (all of them for admins; editors sharing sites share a count):
    at 200,000 reports the count costs more than the rest of a page, and a flood of new
    reports must not make every page recount. An editor's own action recounts at once."""
    ids = visible_site_ids()
    scope = None if ids is None else frozenset(ids)
    return remembered("copydesk.status_counts", scope, STATUS_COUNTS_SECONDS, status_counts, monotonic())


def forget_status_counts():
    current_app.extensions.pop("copydesk.status_counts", None)


def status_counts():
    """Reports by status on the current editor's sites."""
    query = scoped(sa.select(Report.status, sa.func.count()).group_by(Report.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(dict(db.session.execute(query).all()))
    return counts


# --- Sites per editor: an editor sees and acts on the sites they belong to, admins on all.
# Every route, list, count and export goes through these.

def visible_site_ids():
    """None: every site (an admin); else the ids of the current editor's sites."""
    return current_user.seen_site_ids


def scoped(query, site_column=Report.site_id):
    """``query`` limited to the current editor's sites (unchanged for admins)."""
    ids = visible_site_ids()
    return query if ids is None else query.where(site_column.in_(ids))


def can_see_site(site_id):
    return current_user.sees_site(site_id)


def report_or_404(report_id):
    """The report, if the current editor may see it; else 404 (not 403: whether a report
    exists on another site is not theirs to learn)."""
    report = db.session.get(Report, report_id)
    if report is None or not can_see_site(report.site_id):
        abort(404)
    return report


def site_or_404(site_id):
    site = db.session.get(Site, site_id)
    if site is None or not can_see_site(site.id):
        abort(404)
    return site


def visible_sites():
    """The sites the current editor may see, by name."""
    return db.session.scalars(scoped(sa.select(Site), Site.id).order_by(Site.name)).all()


def form_data(form):
    """Form fields with empty values left out, so schema defaults apply."""
    return {k: v for k, v in form.items() if v != ""}


# Plain words for the errors an editor may meet; a view's own description (abort(404, "..."))
# is shown instead when it gives one.
ERROR_EXPLANATIONS = {
    400: lazy_gettext("The desk could not understand that request. Go back, reload the page and try again."),
    403: lazy_gettext("Your account may not open this page. An admin can change your role."),
    404: lazy_gettext("There is nothing at this address. It may have been removed, or the link is wrong."),
    405: lazy_gettext("This address does not take that kind of request."),
    429: lazy_gettext("Too many requests in a short time. Please wait a little and try again."),
    500: lazy_gettext("Something went wrong on the desk's side. Nothing was changed; please try again."),
}


def error_page(error):
    """Every error outside the API is a dashboard page, with the navigation when logged in."""
    code = error.code or 500
    if code >= 500:
        db.session.rollback()  # the failed request's transaction must not break the navigation
    own_words = error.description != type(error).description and code < 500
    explanation = str(error.description if own_words else ERROR_EXPLANATIONS.get(code, error.description))
    response = current_app.make_response((render_template("error.html", error=error,
                                                          explanation=explanation), code))
    # Allow (405), Retry-After (429) and the like, as the error itself would send them.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.get("/")
@login_required
def index():
    return redirect(url_for("dashboard.reports"))


def all_sites():
    return db.session.scalars(sa.select(Site).order_by(Site.name)).all()


# The pages register their routes on ``bp`` when imported.
from . import (articles, audit, editors, export, moderation, notifications, preferences,  # noqa: E402,F401
               report_page, reports, sites, stats)
