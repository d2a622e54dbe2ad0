"""What the desk last found on a report's page."""

import json
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..db import db
from ..models import Report, utcnow


class PageCheck(db.Model):
    """One row per checked report: the latest state, when, and what was found."""
    __tablename__ = "page_check"

    report_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), primary_key=True)
    # One of anchor.STATES.
    state: so.Mapped[str] = so.mapped_column(sa.String(16))
    checked_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # When an open report's page is due again (run_due): its site's period on, sooner after a failure.
    next_check_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    # JSON: where the words are now, the words that replaced them, or why the check failed.
    detail_json: so.Mapped[str] = so.mapped_column(sa.Text, default="{}")
    # The page's HTTP status, when it answered.
    http_status: so.Mapped[Optional[int]] = so.mapped_column()
    # Checks in a row that ended "unknown" (0 after any other state): spaces out retries.
    attempts: so.Mapped[int] = so.mapped_column(default=0)

    report: so.Mapped[Report] = so.relationship()

    @property
    def detail(self):
        return json.loads(self.detail_json or "{}")

    @detail.setter
    def detail(self, value):
        self.detail_json = json.dumps(value, ensure_ascii=False)

    def __repr__(self):
        return f"<PageCheck {self.report_id} {self.state}>"


class CheckRequest(db.Model):
    """A report whose page an editor wants checked soon (in bulk, or by closing it as fixed):
    the worker's "requested checks" job checks it within a minute, open or closed, and the
    check removes the row."""
    __tablename__ = "page_check_request"

    report_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), primary_key=True)
    requested_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    def __repr__(self):
        return f"<CheckRequest {self.report_id}>"
