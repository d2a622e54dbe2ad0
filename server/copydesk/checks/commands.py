"""``copydesk check``: check reports' pages now."""

import sys
from collections import Counter

import click
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from ..db import db
from ..models import Report, Site
from .anchor import STATES


@click.command("check")
@click.option("--site", "site_name", metavar="SITE", help="Only this site's open reports (its name or key).")
@click.option("--report", "report_id", type=click.IntRange(min=1), metavar="ID",
              help="Only this report (open or closed).")
def check_command(site_name, report_id):
    """Check reports' pages now: are the reported words still there?

    \b
    Prints one line per report, `<id> <state>`, the state one of
    still-there, changed, moved, page-gone, unknown; then a summary.
    Without --report, checks every open report (of --site, if given).
    """
    from ..cli import needs_schema
    needs_schema(_run)(site_name, report_id)


def _on_terminal():
    """Progress only for a person watching: piped or logged output stays one line per report."""
    return sys.stderr.isatty()


def _run(site_name, report_id):
    from . import check_report
    query = sa.select(Report).order_by(Report.id)
    if site_name is not None:
        site = Site.find(site_name)
        if site is None:
            raise click.UsageError(_("No site named or keyed %(site)r; see `copydesk sites list`.", site=site_name))
        query = query.where(Report.site_id == site.id)
    if report_id is not None:
        query = query.where(Report.id == report_id)
    else:
        query = query.where(Report.status != "closed")
    ids = db.session.scalars(query.with_only_columns(Report.id)).all()
    if report_id is not None and not ids:
        raise click.UsageError(_("No report %(id)d on that site.", id=report_id) if site_name
                               else _("No report %(id)d.", id=report_id))
    progress = _on_terminal()
    counts = Counter()
    for number, one_id in enumerate(ids, 1):
        if progress:
            click.echo("\r" + _("Checking %(number)d/%(total)d…", number=number, total=len(ids)), nl=False, err=True)
        state = check_report(db.session.get(Report, one_id))
        counts[state] += 1
        if progress:
            click.echo("\r\033[K", nl=False, err=True)
        click.echo(f"{one_id} {state}")
    summary = ", ".join(f"{counts[state]} {state}" for state in STATES if counts[state])
    click.echo(ngettext("Checked %(num)d report: %(summary)s.", "Checked %(num)d reports: %(summary)s.", len(ids),
                        summary=summary) if summary else
               ngettext("Checked %(num)d report.", "Checked %(num)d reports.", len(ids)))
