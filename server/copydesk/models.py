"""Sites, reports, submissions, editors and the audit trail."""

import hashlib
import json
import secrets
from datetime import datetime, timezone
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db
from .text import origin_of, storable

STATUSES = ("new", "confirmed", "closed")
RESOLUTIONS = ("fixed", "not_an_error", "spam", "duplicate")
ROLES = ("admin", "editor")
# The values above in the editor's language, where the dashboard and emails show them
# (forms, URLs and exports keep the English values).
STATUS_LABELS = {"new": lazy_gettext("new"), "confirmed": lazy_gettext("confirmed"), "closed": lazy_gettext("closed")}
RESOLUTION_LABELS = {"fixed": lazy_gettext("fixed"), "not_an_error": lazy_gettext("not an error"),
                     "spam": lazy_gettext("spam"), "duplicate": lazy_gettext("duplicate")}
ROLE_LABELS = {"admin": lazy_gettext("admin"), "editor": lazy_gettext("editor")}
# What readers may say a mistake is (optional, issue 13); each report counts each kind.
KINDS = ("typo", "fact", "link", "other")
KIND_LABELS = {"typo": lazy_gettext("typo"), "fact": lazy_gettext("wrong fact"),
               "link": lazy_gettext("broken link or image"), "other": lazy_gettext("other")}
# The languages the widget speaks, each named in itself: a site may choose one, or follow
# each page's own language (None).
LANGUAGES = {"en": "English", "ru": "Русский", "uk": "Українська", "kk": "Қазақша", "be": "Беларуская",
             "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano", "pt": "Português",
             "pl": "Polski", "tr": "Türkçe", "ar": "العربية", "he": "עברית"}
# Longest selection a site takes by default, and the most any site may allow.
DEFAULT_MAX_SELECTION = 300
MAX_SITE_SELECTION = 2000


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Refused(ValueError):
    """A change the desk's rules refuse; the message says why, in words for the person asking."""


# One answer for an editor the desk does not have and one who may not see the site: no name
# of another site's editor is given away.
NO_SUCH_EDITOR = lazy_gettext("There is no such editor. Go back, reload the page and choose again.")


def _save(row, refusal):
    """Add ``row`` and commit; when a unique index refuses it (another save in the same
    instant), raise ``refusal``."""
    db.session.add(row)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise refusal from None


def new_site_key():
    """A random public key that starts with a letter or digit, so it never reads as an
    option on a command line (``copydesk sites remove -x…``)."""
    while not (key := secrets.token_urlsafe(12))[0].isalnum():
        pass
    return key


class Site(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    # The name casefolded: unique, so no two sites look alike in any script or case.
    name_key: so.Mapped[str] = so.mapped_column(sa.Text, unique=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True, default=lambda: new_site_key())
    # JSON list of exact origins, e.g. ["https://news.example.com"].
    allowed_origins_json: so.Mapped[str] = so.mapped_column(sa.Text, default="[]")
    # The dialog's language; None: each page's own (data-lang, else <html lang>).
    language: so.Mapped[Optional[str]] = so.mapped_column(sa.String(35), default=None)
    max_selection: so.Mapped[int] = so.mapped_column(default=DEFAULT_MAX_SELECTION)
    # The dialog offers readers "tell me when it's fixed" (an optional email address).
    reader_followup: so.Mapped[bool] = so.mapped_column(default=False)
    # The dialog asks readers what kind of error it is (KINDS).
    kinds_enabled: so.Mapped[bool] = so.mapped_column(default=True)
    # Open reports' pages are checked this often (checks.due_reports); 0: never.
    check_every_hours: so.Mapped[int] = so.mapped_column(default=24)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    @property
    def allowed_origins(self) -> list[str]:
        return json.loads(self.allowed_origins_json or "[]")

    @allowed_origins.setter
    def allowed_origins(self, origins):
        self.allowed_origins_json = json.dumps(sorted(set(origins)))

    def allows(self, origin):
        """May a page at this origin send reports (and read answers) for the site?"""
        return origin in self.allowed_origins

    def has_page(self, url):
        """Is this http(s) URL a page on one of the site's origins?"""
        try:
            return self.allows(origin_of(url))
        except ValueError:
            return False

    @staticmethod
    def name_key_for(name):
        return name.strip().casefold()

    @so.validates("name")
    def _keep_name_key(self, _field, name):
        self.name_key = self.name_key_for(name)
        return name

    @classmethod
    def find(cls, key_or_name):
        """The site with this key, or else with this name (in any case); None if none."""
        if not storable(key_or_name):  # PostgreSQL refuses NUL even in a query parameter
            return None
        return db.session.scalar(sa.select(cls).where(cls.key == key_or_name)) or db.session.scalar(
            sa.select(cls).where(cls.name_key == cls.name_key_for(key_or_name)))

    def update_from(self, data):
        """Apply a loaded ``SiteSchema`` (the dashboard's form and ``copydesk sites add``);
        ``save`` stores it."""
        self.name, self.language = data["name"], data["language"]
        self.max_selection = data["max_selection"]
        self.allowed_origins = data["origins"]
        self.reader_followup = data["reader_followup"]
        self.kinds_enabled = data["kinds_enabled"]
        self.check_every_hours = data["check_every_hours"]

    def save(self):
        """Add and commit. A name another site has (in any case) is refused, also one another
        admin saved in the same instant: the unique index on ``name_key`` decides. A new site
        starts with its default notification rules (``Rule.for_new_site``)."""
        if self.id is None:
            from .notify.models import Rule
            db.session.add_all(Rule.for_new_site(self))
        _save(self, self._name_taken(self.name))

    @staticmethod
    def _name_taken(name):
        return Refused(_("A site named “%(name)s” exists already.", name=name))

    def report_count(self):
        return db.session.scalar(sa.select(sa.func.count()).select_from(Report).where(Report.site_id == self.id))

    def remove(self):
        """Delete the site with its reports, their submissions and audit trail; returns how
        many reports went. The caller commits."""
        from . import search
        reports = sa.select(Report.id).where(Report.site_id == self.id).scalar_subquery()
        count = self.report_count()
        search.forget(sa.select(Report.id).where(Report.site_id == self.id))
        db.session.execute(sa.delete(Event).where(Event.report_id.in_(reports)))
        db.session.execute(sa.delete(Submission).where(Submission.site_id == self.id))
        # Reports of other sites never point here, but this site's own may point at each other.
        db.session.execute(sa.update(Report).where(Report.site_id == self.id).values(previous_report_id=None))
        db.session.execute(sa.delete(Report).where(Report.site_id == self.id))
        db.session.delete(self)
        return count

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
    # How many readers chose each kind (KINDS), counted in intake's own statements.
    typo_count: so.Mapped[int] = so.mapped_column(default=0)
    fact_count: so.Mapped[int] = so.mapped_column(default=0)
    link_count: so.Mapped[int] = so.mapped_column(default=0)
    other_count: so.Mapped[int] = so.mapped_column(default=0)
    previous_report_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("report.id"))
    # The editor who takes care of it (issue 10); None: unassigned.
    assignee_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("editor.id"))
    # Closed as a duplicate of this report (resolution "duplicate").
    duplicate_of_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("report.id"))
    # Set when filed (and when a repeat reaches a milestone, notify.REPEAT_MILESTONES); the
    # worker turns it into deliveries and clears it in one transaction.
    notify_due: so.Mapped[bool] = so.mapped_column(default=True)
    # The readers' count when the report was last announced; 0 = never.
    announced_count: so.Mapped[int] = so.mapped_column(default=0)

    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_submitted_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    site: so.Mapped[Site] = so.relationship()
    previous_report: so.Mapped[Optional["Report"]] = so.relationship(
        remote_side=[id], foreign_keys=[previous_report_id])
    duplicate_of: so.Mapped[Optional["Report"]] = so.relationship(
        remote_side=[id], foreign_keys=[duplicate_of_id])
    assignee: so.Mapped[Optional["Editor"]] = so.relationship(foreign_keys=[assignee_id])
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
        # "Mine" lists and an editor's assignments; partial for the same reason (migration 0012).
        sa.Index("ix_report_assignee_status_id", "assignee_id", "status", "id",
                 sqlite_where=sa.text("assignee_id IS NOT NULL"),
                 postgresql_where=sa.text("assignee_id IS NOT NULL")),
        # "Duplicate of #N" linked back from #N; partial for the same reason as above.
        sa.Index("ix_report_duplicate_of_id", "duplicate_of_id",
                 sqlite_where=sa.text("duplicate_of_id IS NOT NULL"),
                 postgresql_where=sa.text("duplicate_of_id IS NOT NULL")),
        # The article view: every report on one page, and pages by open reports.
        sa.Index("ix_report_site_page_key_status", "site_id", "page_key", "status"),
        # The stats page: reports per day in a period; open reports by site, section and author.
        sa.Index("ix_report_created_at_site_status", "created_at", "site_id", "status", "resolution"),
        sa.Index("ix_report_site_section_author_status", "site_id", "article_section", "article_author", "status"),
        # The article view by article id (most reports have none: partial, like the others).
        sa.Index("ix_report_site_article_id_status_id", "site_id", "article_id", "status", "id",
                 sqlite_where=sa.text("article_id <> ''"), postgresql_where=sa.text("article_id <> ''")),
        # The worker's "what is there to announce": partial, so it stays as small as that.
        sa.Index("ix_report_notify_due", "id",
                 sqlite_where=sa.text("notify_due = 1"), postgresql_where=sa.text("notify_due")),
    )

    # --- Lifecycle: every caller (dashboard, CLI, later the API) goes through these. ---

    def confirm(self, by):
        if self.status != "new":
            raise Refused(_("Only a new report can be confirmed."))
        self._change("status", "confirmed", by)

    def close(self, resolution, by, duplicate_of=None):
        """Close with a resolution; "duplicate" names the report it repeats (a Report or its id)."""
        if self.status == "closed":
            raise Refused(_("This report is already closed."))
        if resolution not in RESOLUTIONS:
            raise Refused(_("Choose a resolution: %(resolutions)s.", resolutions=", ".join(RESOLUTIONS)))
        original = self._original(duplicate_of) if resolution == "duplicate" else None
        if resolution != "duplicate" and duplicate_of not in (None, ""):
            raise Refused(_("Only a report closed as a duplicate names another report."))
        from . import checks
        from .notify import readers
        self._change("status", "closed", by)
        self._change("resolution", resolution, by)
        if original is not None:
            self._change("duplicate_of_id", original.id, by, kind="duplicate_of")
        if resolution == "fixed":
            # The error is gone: a later sighting is a new report, not a repeat of this one.
            self.group_key = None
            # Readers who asked to hear get one thank-you each; their addresses go after it.
            readers.thank_readers(self)
            # The page is checked at once: is the error really gone?
            checks.request_checks([self.id])
        else:
            # Nobody will write to them: the addresses go now.
            readers.forget_addresses(self)

    def _original(self, duplicate_of):
        """The report this one repeats: another report of the same site that is not, through
        a chain of duplicates, a duplicate of this one."""
        if isinstance(duplicate_of, Report):
            duplicate_of = duplicate_of.id
        try:
            original_id = int(duplicate_of)
        except (TypeError, ValueError):
            raise Refused(_("Give the number of the report this one duplicates.")) from None
        original = db.session.get(Report, original_id) if 0 < original_id < 2**63 else None
        if original is None or original.site_id != self.site_id:
            raise Refused(_("There is no report #%(id)s on this site.", id=original_id))
        if original.id == self.id:
            raise Refused(_("A report cannot be a duplicate of itself."))
        seen, step = {original.id}, original
        while step.duplicate_of_id is not None:
            if step.duplicate_of_id == self.id:
                raise Refused(_("Report #%(id)s is itself a duplicate of this one.", id=original.id))
            if step.duplicate_of_id in seen:
                break  # an older loop the rule did not exist to stop; not this report's
            seen.add(step.duplicate_of_id)
            step = db.session.get(Report, step.duplicate_of_id)
        return original

    def reopen(self, by):
        """Back to the status it had before it was closed; it gathers repeats again unless a
        newer report of the same error gathers them now."""
        from .notify import readers
        if self.status != "closed":
            raise Refused(_("Only a closed report can be reopened."))
        readers.cancel_thanks(self)  # not fixed after all: no thank-you goes out
        before = db.session.scalar(
            self.events.select().where(Event.kind == "status", Event.to_value == "closed")
            .order_by(Event.id.desc()).limit(1).with_only_columns(Event.from_value))
        self._change("status", before if before in ("new", "confirmed") else "new", by)
        self._change("resolution", None, by)
        if self.duplicate_of_id is not None:
            self._change("duplicate_of_id", None, by, kind="duplicate_of")
        if self.group_key is None:
            try:
                # A savepoint: a sighting filed meanwhile may hold the key; then it keeps it.
                with db.session.begin_nested():
                    self.group_key = self.anchor_key
            except sa.exc.IntegrityError:
                self.group_key = None

    def assign(self, editor, by):
        """Give the report to ``editor`` (None: to nobody). Only an active editor who sees the
        report's site may take it; they hear of it by email, unless they took it themselves."""
        from .notify import deliveries
        if editor is not None and not editor.sees_site(self.site_id):
            raise Refused(str(NO_SUCH_EDITOR))
        if (editor.id if editor is not None else None) == self.assignee_id:
            return
        deliveries.cancel_assignment(self)  # a message still owed to the one before goes unsent
        self._change("assignee_id", editor.id if editor is not None else None, by, kind="assignee")
        self.assignee = editor
        if editor is not None and (by is None or by.id != editor.id):
            deliveries.announce_assignment(self, editor)

    def delete(self, by):
        """Delete the report with everything about it (an admin's decision, audited without its
        text). Reports linking to it ("seen again", "duplicate of") lose the link. The caller
        commits."""
        from . import search
        from .audit import record
        from .checks.models import CheckRequest, PageCheck
        from .notify.deliveries import cancel_for_report
        from .notify.models import DeliveryItem
        if by is None or not by.is_admin:
            raise Refused(_("Only an admin can delete a report."))
        record("report_deleted", f"report {self.id} ({self.site.name})", by, report_id=self.id,
               site_id=self.site_id, submissions=self.submission_count, status=self.status,
               resolution=self.resolution)
        cancel_for_report(self)
        search.forget([self.id])
        for table, column in ((DeliveryItem, DeliveryItem.report_id), (PageCheck, PageCheck.report_id),
                              (CheckRequest, CheckRequest.report_id), (Event, Event.report_id),
                              (Submission, Submission.report_id)):
            db.session.execute(sa.delete(table).where(column == self.id),
                               execution_options={"synchronize_session": False})
        for column in (Report.previous_report_id, Report.duplicate_of_id):
            db.session.execute(sa.update(Report).where(column == self.id).values({column.key: None}),
                               execution_options={"synchronize_session": False})
        db.session.execute(sa.update(SenderBlock).where(SenderBlock.report_id == self.id).values(report_id=None),
                           execution_options={"synchronize_session": False})
        db.session.delete(self)

    def add_note(self, note, by):
        if not note.strip():
            raise Refused(_("Write a note."))
        db.session.add(Event(report_id=self.id, editor_id=by.id, kind="note", note=note))
        self.updated_at = utcnow()

    def _change(self, field, value, by, kind=None):
        # by=None: the desk itself (a page check that found a fix reverted).
        before = getattr(self, field)
        db.session.add(Event(report_id=self.id, editor_id=by.id if by is not None else None, kind=kind or field,
                             from_value=None if before is None else str(before),
                             to_value=None if value is None else str(value)))
        setattr(self, field, value)
        self.updated_at = utcnow()

    @staticmethod
    def kind_count(kind):
        """The column counting readers who chose ``kind``."""
        if kind not in KINDS:
            raise ValueError(f"not a kind: {kind!r}")
        return getattr(Report, f"{kind}_count")

    @property
    def kind_counts(self):
        """{kind: readers} of the kinds readers chose, in KINDS order; {} if none chose."""
        counts = {kind: getattr(self, f"{kind}_count") or 0 for kind in KINDS}
        return {kind: count for kind, count in counts.items() if count}

    @property
    def kinds_shown(self):
        """The kinds in words, as editors read them: "typo ×3, wrong fact ×1"; "" if none."""
        return ", ".join(f"{KIND_LABELS[kind]} ×{count}" for kind, count in self.kind_counts.items())

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
    # "Tell me when it's fixed" (sites with reader_followup only): used once for the
    # thank-you, then erased; editors see it masked.
    reader_email: so.Mapped[Optional[str]] = so.mapped_column(sa.String(254))
    # What the reader said the mistake is (KINDS); None: they did not say, or the site
    # does not ask.
    kind: so.Mapped[Optional[str]] = so.mapped_column(sa.String(8))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)

    report: so.Mapped[Report] = so.relationship(back_populates="submissions")

    __table_args__ = (
        sa.UniqueConstraint("site_id", "idempotency_key"),
        # A report's latest submissions, newest first, without sorting all of them.
        sa.Index("ix_submission_report_id_id", "report_id", "id"),
        # The report page's suggestions, counted; partial: most submissions suggest nothing.
        sa.Index("ix_submission_report_id_suggested", "report_id",
                 sqlite_where=sa.text("suggestion <> ''"), postgresql_where=sa.text("suggestion <> ''")),
    )

    @property
    def reader_email_masked(self):
        """The reader's address as editors see it (j•••@example.com); "" if none."""
        from .notify.readers import mask
        return mask(self.reader_email)

    def erase(self, by):
        """Erase this reader's submission at their request (an admin's action, audited without
        its text) and recount its report. The last one erased deletes the report too: the
        report's words are what that reader sent, and an erasure keeps none of it. The caller
        commits; answers whether the report went."""
        from .audit import record
        from .notify.deliveries import cancel_for_submission
        if by is None or not by.is_admin:
            raise Refused(_("Only an admin can erase a submission."))
        report = self.report
        record("submission_erased", f"report {report.id} ({report.site.name})", by, report_id=report.id,
               submission_id=self.id, site_id=report.site_id)
        cancel_for_submission(self)
        db.session.execute(sa.delete(Submission).where(Submission.id == self.id),
                           execution_options={"synchronize_session": False})
        db.session.expunge(self)
        left = sa.select(sa.func.count()).where(Submission.report_id == report.id).scalar_subquery()
        if not db.session.scalar(sa.select(left)):
            report.delete(by)
            return True
        # Counted in SQL, as intake counts, so a repeat filed meanwhile is not lost.
        of_kind = {f"{kind}_count": sa.select(sa.func.count()).where(
            Submission.report_id == report.id, Submission.kind == kind).scalar_subquery() for kind in KINDS}
        db.session.execute(sa.update(Report).where(Report.id == report.id).values(
            submission_count=left, updated_at=utcnow(), **of_kind), execution_options={"synchronize_session": False})
        db.session.refresh(report)
        return False


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
    # The dashboard's language ("en", "ru") and time zone (IANA name); None: from the browser.
    language: so.Mapped[Optional[str]] = so.mapped_column(sa.String(35))
    time_zone: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    # The sites an editor belongs to: they see and act on these only (admins on all).
    sites: so.Mapped[list[Site]] = so.relationship(secondary="editor_site", order_by="Site.name")

    def set_password(self, password):
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.session_token = secrets.token_hex(16)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @staticmethod
    def normalize_email(email):
        """Emails are stored and looked up in one form: trimmed, lower case."""
        return email.strip().lower()

    @classmethod
    def find(cls, email):
        """The editor with this email (in any case); None if none."""
        if not storable(email):  # PostgreSQL refuses NUL even in a query parameter
            return None
        return db.session.scalar(sa.select(cls).where(cls.email == cls.normalize_email(email)))

    @classmethod
    def create(cls, email, password, name="", role="editor"):
        """A new editor, stored (see ``save``): the one way the dashboard, the CLI and the
        demo add one."""
        editor = cls(email=cls.normalize_email(email), name=name, role=role)
        editor.set_password(password)
        editor.save()
        return editor

    def save(self):
        """Add and commit; an email another editor has is refused, also one another admin
        added in the same instant: the unique index decides."""
        _save(self, self._email_taken(self.email))

    @staticmethod
    def _email_taken(email):
        return Refused(_("An editor with the email %(email)s exists already.", email=email))

    def set_role(self, role, by=None):
        """Change the role; an admin made an editor lets go of the reports of sites they do not
        belong to (``give_up_unseen_reports``, by ``by``). Answers how many."""
        if role not in ROLES:
            raise Refused(_("A role is one of: %(roles)s.", roles=", ".join(ROLES)))
        if role != "admin":
            self._keep_an_admin("demote")
        demoted, self.role = self.is_admin and role != "admin", role
        return self.give_up_unseen_reports(by) if demoted else 0

    def set_active(self, flag, by=None):
        """(De)activate; a deactivated editor lets go of all their reports
        (``give_up_unseen_reports``, by ``by``). Answers how many."""
        if not flag:
            self._keep_an_admin("deactivate")
            self.session_token = secrets.token_hex(16)  # ends their sessions now
            from .notify.deliveries import cancel_for_editor
            cancel_for_editor(self)  # nothing more is sent to them, digests included
        self.active = bool(flag)
        return self.give_up_unseen_reports(by) if not flag else 0

    def give_up_unseen_reports(self, by=None):
        """Unassign this editor's reports, open and closed, on the sites they no longer see
        (taken off a site, demoted, deactivated): they cannot act on them, and everyone's
        "Mine" and "Unassigned" would be wrong. Each goes through ``Report.assign``, so each
        gets its history entry (by ``by``) and no email goes. The one path for every such
        change; the caller commits. Answers how many."""
        held = db.session.scalars(sa.select(Report.site_id).where(Report.assignee_id == self.id).distinct())
        unseen = [site_id for site_id in held if not self.sees_site(site_id)]
        if not unseen:
            return 0
        # Locked, and read afresh: a report a colleague took meanwhile is theirs (PostgreSQL
        # checks the condition again once the lock is had), and is left to them.
        reports = db.session.scalars(sa.select(Report).where(
            Report.assignee_id == self.id, Report.site_id.in_(unseen)).order_by(Report.id)
            .with_for_update(key_share=True).execution_options(populate_existing=True)).all()
        for report in reports:
            report.assign(None, by=by)
        return len(reports)

    def _keep_an_admin(self, doing):
        others = sa.select(sa.func.count()).select_from(Editor).where(
            Editor.role == "admin", Editor.active.is_(True), Editor.id != self.id)
        if self.role == "admin" and self.active and not db.session.scalar(others):
            raise Refused(_("Cannot demote %(email)s: the desk needs at least one active admin.", email=self.email)
                          if doing == "demote" else
                          _("Cannot deactivate %(email)s: the desk needs at least one active admin.", email=self.email))

    @property
    def is_active(self):
        return self.active

    @property
    def is_admin(self):
        return self.role == "admin"

    # --- Who may see a site: the one rule, here in Python and in SQL (keep the two in step).

    @property
    def seen_site_ids(self):
        """None: every site (an admin); else the ids of the sites this editor belongs to."""
        return None if self.is_admin else [site.id for site in self.sites]

    def sees_site(self, site_id):
        """Whether this editor may see site ``site_id``, its reports and what is sent about
        them: an active admin sees every site, an active editor the sites they belong to."""
        ids = self.seen_site_ids
        return bool(self.active) and (ids is None or site_id in ids)

    @classmethod
    def seeing_site(cls, site_id):
        """``sees_site`` as an SQL condition on editors: those who may see site ``site_id``."""
        member = sa.exists().where(editor_site.c.editor_id == cls.id, editor_site.c.site_id == site_id)
        return sa.and_(cls.active.is_(True), sa.or_(cls.role == "admin", member))

    @property
    def display_name(self):
        return self.name or self.email

    def get_id(self):
        return f"{self.id}:{self.session_token}"

    def __repr__(self):
        return f"<Editor {self.email}>"


class EditorSession(db.Model):
    """A logged-in browser. Its cookie carries a random token whose hash keys this row, so
    deleting the row (logout, expiry) ends the session for every copy of that cookie."""
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    editor_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("editor.id", ondelete="CASCADE"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    @staticmethod
    def hash_token(token):
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class LoginAttempt(db.Model):
    """One try at an editor's password (login or Account), kept in the database so the
    throttle counts exactly across processes and servers. Address and email are keyed
    hashes; rows older than the longest login limit are pruned."""
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    address_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    account_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    # "pending" while the password is checked, then "failed", "succeeded" or "refused" (throttled).
    outcome: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)

    __table_args__ = (
        sa.Index("ix_login_attempt_address_hash_created_at", "address_hash", "created_at"),
        sa.Index("ix_login_attempt_account_hash_created_at", "account_hash", "created_at"),
    )


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


# Which editors belong to which sites (admins need no rows: they see every site).
editor_site = sa.Table(
    "editor_site", db.metadata,
    sa.Column("editor_id", sa.ForeignKey("editor.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.ForeignKey("site.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AuditEntry(db.Model):
    """The desk's own audit trail, beside each report's events: logins, admin changes to
    sites and editors, deletions and erasures (which keep no erased text), blocks."""
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # None: the desk itself, or a login attempt for no known editor.
    editor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("editor.id", ondelete="SET NULL"))
    # What happened, e.g. "login", "login_failed", "site_changed", "report_deleted".
    action: so.Mapped[str] = so.mapped_column(sa.String(40))
    # What it happened to, in words that survive its deletion: "site 3 (Daily News)".
    subject: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    # JSON object of details (changed fields, counts); never reader text that was erased.
    detail_json: so.Mapped[str] = so.mapped_column(sa.Text, default="{}")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)

    editor: so.Mapped[Optional[Editor]] = so.relationship()


class SenderBlock(db.Model):
    """A reader's address (its keyed hash, as submissions keep it) blocked on one site
    until a time: their sends are answered like accepted ones and stored nowhere."""
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    ip_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    until: so.Mapped[datetime] = so.mapped_column()
    # The report closed as spam that led to the block, if it still exists.
    report_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("report.id", ondelete="SET NULL"))
    created_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("editor.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    site: so.Mapped[Site] = so.relationship()
    created_by: so.Mapped[Optional[Editor]] = so.relationship()

    __table_args__ = (sa.Index("ix_sender_block_site_ip_hash_until", "site_id", "ip_hash", "until"),)
