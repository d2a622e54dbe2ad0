"""A report's own page."""

import sqlalchemy as sa
from flask import render_template
from flask_login import login_required

from .. import checks
from ..db import db
from ..models import Event, Report, Submission
from . import ID, bp, report_or_404

SUBMISSIONS_SHOWN = 100


@bp.get(f"/reports/<{ID}:report_id>")
@login_required
def report(report_id):
    item = report_or_404(report_id)
    submissions = db.session.scalars(
        item.submissions.select().order_by(Submission.id.desc()).limit(SUBMISSIONS_SHOWN)).all()
    events = db.session.scalars(item.events.select().order_by(Event.id)).all()
    later = db.session.scalars(sa.select(Report).where(Report.previous_report_id == item.id)).all()
    check = db.session.get(checks.PageCheck, item.id)
    return render_template("dashboard/report.html", report=item, submissions=submissions,
                           events=events, later_reports=later, shown=SUBMISSIONS_SHOWN, check=check,
                           check_queued=db.session.get(checks.CheckRequest, item.id) is not None,
                           still_there_after_fix=checks.still_there_after_fix(item, check))
