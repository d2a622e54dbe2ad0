"""Sites, reports, submissions, editors and the audit trail."""

import hashlib
import json
import secrets
from datetime import datetime, timezone
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db

STATUSES = ("new", "confirmed", "closed")
RESOLUTIONS = ("fixed", "not_an_error", "spam", "duplicate")
ROLES = ("admin", "editor")


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Site(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    key: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True,
                                            default=lambda: secrets.token_urlsafe(12))
    # JSON list of exact origins, e.g. ["https://news.example.com"].
    allowed_origins_json: so.Mapped[str] = so.mapped_column(sa.Text, default="[]")
    language: so.Mapped[str] = so.mapped_column(sa.String(35), default="en")
    max_selection: so.Mapped[int] = so.mapped_column(default=300)
    notify_emails: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    @property
    def allowed_origins(self) -> list[str]:
        return json.loads(self.allowed_origins_json or "[]")

    @allowed_origins.setter
    def allowed_origins(self, origins):
        self.allowed_origins_json = json.dumps(sorted(set(origins)))

    def update_from(self, data):
        """Apply a loaded ``SiteSchema`` (the dashboard's form and ``copydesk sites add``)."""
        self.name, self.language = data["name"], data["language"]
        self.max_selection = data["max_selection"]
        self.allowed_origins = data["origins"]

    def embed_snippet(self, base_url):
        return f'<script src="{base_url.rstrip("/")}/static/copydesk.js" data-site="{self.key}" defer></script>'

    def __repr__(self):
        return f"<Site {self.name!r}>"


class Report(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id"), index=True)
    # Set while the report gathers repeats; cleared when it is closed as fixed so
    # that a later sighting of the same error opens a new report.
    group_key: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64), unique=True)
    # The same hash, kept for good: finds the earlier report a reopened error links to.
    anchor_key: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)

    page_url: so.Mapped[str] = so.mapped_column(sa.Text)
    page_key: so.Mapped[str] = so.mapped_column(sa.Text)
    canonical_url: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    title: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    lang: so.Mapped[str] = so.mapped_column(sa.String(35), default="")
    article_id: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    article_section: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    article_author: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    article_published: so.Mapped[str] = so.mapped_column(sa.String(64), default="")

    exact: so.Mapped[str] = so.mapped_column(sa.Text)
    prefix: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    suffix: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    position: so.Mapped[Optional[int]] = so.mapped_column()

    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="new")
    resolution: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    submission_count: so.Mapped[int] = so.mapped_column(default=1)
    previous_report_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("report.id"))

    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_submitted_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    site: so.Mapped[Site] = so.relationship()
    previous_report: so.Mapped[Optional["Report"]] = so.relationship(remote_side=[id])
    submissions: so.WriteOnlyMapped["Submission"] = so.relationship(
        back_populates="report", passive_deletes=True)
    events: so.WriteOnlyMapped["Event"] = so.relationship(
        back_populates="report", passive_deletes=True)

    __table_args__ = (
        # The dashboard's list queries: by status, optionally by site, newest or most reported.
        sa.Index("ix_report_status_id", "status", "id"),
        sa.Index("ix_report_site_status_id", "site_id", "status", "id"),
        sa.Index("ix_report_status_count_id", "status", "submission_count", "id"),
        sa.Index("ix_report_site_status_count_id", "site_id", "status", "submission_count", "id"),
        # The detail page's "seen again" links. Partial: nearly every report has none, and a
        # full index of NULLs makes SQLite's planner prefer a table scan.
        sa.Index("ix_report_previous_report_id", "previous_report_id",
                 sqlite_where=sa.text("previous_report_id IS NOT NULL"),
                 postgresql_where=sa.text("previous_report_id IS NOT NULL")),
    )

    @staticmethod
    def make_anchor_key(site_id, page_key, exact, prefix, suffix):
        raw = json.dumps([site_id, page_key, exact, prefix, suffix], ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()

    def __repr__(self):
        return f"<Report {self.id} {self.status}>"


class Submission(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"))
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id"))
    idempotency_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    # Whether this send joined a report that already existed (answered again on replays).
    joined: so.Mapped[bool] = so.mapped_column(default=False)
    comment: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    suggestion: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    ip_hash: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    user_agent: so.Mapped[Optional[str]] = so.mapped_column(sa.String(400))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)

    report: so.Mapped[Report] = so.relationship(back_populates="submissions")

    __table_args__ = (
        sa.UniqueConstraint("site_id", "idempotency_key"),
        # A report's latest submissions, newest first, without sorting all of them.
        sa.Index("ix_submission_report_id_id", "report_id", "id"),
    )


class Editor(UserMixin, db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default="editor")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    # Part of the session identity: changing the password rotates it and ends other sessions.
    session_token: so.Mapped[str] = so.mapped_column(
        sa.String(64), default=lambda: secrets.token_hex(16))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    def set_password(self, password):
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.session_token = secrets.token_hex(16)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self):
        return self.active

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def display_name(self):
        return self.name or self.email

    def get_id(self):
        return f"{self.id}:{self.session_token}"

    def __repr__(self):
        return f"<Editor {self.email}>"


class Event(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    report_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True)
    editor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("editor.id"))
    # "status", "resolution" or "note".
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    from_value: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    to_value: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    report: so.Mapped[Report] = so.relationship(back_populates="events")
    editor: so.Mapped[Optional[Editor]] = so.relationship()
