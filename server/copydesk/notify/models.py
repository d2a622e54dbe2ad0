"""Who hears about a site's reports, and every message the desk owes someone.

A ``Rule`` says who hears what on one site: a recipient (everyone on the site, one editor,
the article's author, an email address, a Slack or Telegram chat, a signed webhook) and
what it hears (every report, or only one section, author or kind). An editor's
``Preference`` says how they hear a site: at once, hourly, daily (the default) or not at
all. ``AuthorContact`` maps the author name a page declares to an address or an editor.

A ``Delivery`` is one message owed to one recipient; its ``DeliveryItem`` rows are the
reports it is about (one for an instant message, several for a digest). The database is
the source of truth for what is due: a report is marked ``notify_due`` when it is filed,
the worker turns it into deliveries in one transaction, and a delivery stays due until a
send succeeds or its retries run out.
"""

import secrets
from datetime import datetime, timedelta
from typing import NamedTuple, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy.ext.hybrid import hybrid_property

from ..db import db
from ..models import Editor, Refused, _save, utcnow

# Who a rule sends to. "everyone", "editor" and "author" reach people (through email, in
# each one's own mode); the others are channels configured on the rule itself.
RECIPIENTS = ("everyone", "editor", "author", "email", "slack", "telegram", "webhook")
CHANNELS = ("email", "slack", "telegram", "webhook")
# What a rule hears: every report ("") or those of one section, author or kind.
MATCH_FIELDS = ("", "section", "author", "kind")
# How an editor (or a plain address) hears a site. Editors default to the daily digest.
MODES = ("instant", "hourly", "daily", "off")
DEFAULT_MODE = "daily"
# The modes that send something, fastest first: an address two rules reach hears in the faster.
MODE_ORDER = ("instant", "hourly", "daily")
# The modes that gather reports into one message (ix_delivery_digest's predicate spells them out).
DIGEST_MODES = ("hourly", "daily")
# A delivery's life: due ("pending"), claimed by a worker ("sending"), done ("sent"), given
# up after its retries ("failed"), or "cancelled" (its rule was removed before it was due).
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "cancelled")
# What a delivery says: a report (instant), several (digest), or the thank-you to a reader
# who asked to hear when the error was fixed. (A test is sent at once, never stored.)
DELIVERY_KINDS = ("report", "digest", "reader-thanks")
# The states and kinds (the assignment email's too) as the deliveries list shows them.
DELIVERY_STATE_LABELS = {"pending": lazy_gettext("pending"), "sending": lazy_gettext("sending"),
                         "sent": lazy_gettext("sent"), "failed": lazy_gettext("failed"),
                         "cancelled": lazy_gettext("cancelled")}
DELIVERY_KIND_LABELS = {"report": lazy_gettext("report"), "digest": lazy_gettext("digest"),
                        "reader-thanks": lazy_gettext("reader's thank-you"), "assigned": lazy_gettext("assignment")}
# Why a report is in a delivery.
REASONS = ("new", "repeat")
# A report's repeats send nothing, except one more message when this many readers have sent it.
REPEAT_MILESTONES = (5, 25, 100)


def match_key(value):
    """How a section or an author's name is compared (rules, author contacts): casefolded,
    runs of spaces collapsed."""
    return " ".join((value or "").split()).casefold()


def new_webhook_secret():
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    import base64
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Rule(db.Model):
    __tablename__ = "notify_rule"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    recipient: so.Mapped[str] = so.mapped_column(sa.String(16))
    # The editor of an "editor" rule.
    editor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("editor.id", ondelete="CASCADE"))
    # The address, webhook URL or Telegram chat id of a channel rule; "" for the others.
    target: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # How a plain email address hears (editors use their own Preference): instant, hourly, daily.
    mode: so.Mapped[str] = so.mapped_column(sa.String(16), default="instant")
    match_field: so.Mapped[str] = so.mapped_column(sa.String(16), default="")
    # As the admin typed it, and as it is compared (``match_key``: casefolded, spaces collapsed).
    match_value: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    match_key: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # Telegram's bot token.
    token: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # A webhook's signing secret (whsec_…), and the one it replaced while receivers move over.
    secret: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    previous_secret: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    previous_secret_until: so.Mapped[Optional[datetime]] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    site = so.relationship("Site")
    editor = so.relationship("Editor")

    __table_args__ = (
        # A site has each rule once (two would send every message twice): one index for the
        # rules naming an editor, one for the others (editor_id NULL is never equal in SQL).
        sa.Index("ux_notify_rule_same", "site_id", "recipient", "target", "match_field", "match_key",
                 unique=True, sqlite_where=sa.text("editor_id IS NULL"),
                 postgresql_where=sa.text("editor_id IS NULL")),
        sa.Index("ux_notify_rule_same_editor", "site_id", "editor_id", "match_field", "match_key",
                 unique=True, sqlite_where=sa.text("editor_id IS NOT NULL"),
                 postgresql_where=sa.text("editor_id IS NOT NULL")),
    )

    # Rules that reach people by email, each in their own mode (an author's plain address:
    # the rule's mode).
    PEOPLE = ("everyone", "editor", "author")
    # How long the replaced webhook secret still signs, while receivers move to the new one.
    SECRET_OVERLAP = timedelta(hours=24)

    # --- Who hears what: the CLI and the dashboard go through these. ---

    @classmethod
    def add(cls, site, recipient, target="", mode="instant", match_field="", match_value="", token=""):
        """A new rule on ``site``, stored; takes what ``notify.schemas.RuleSchema`` loads. An
        "editor" rule names its editor by email; a webhook rule gets its signing secret here.
        Refused: an editor the desk does not have, or a rule the site has already."""
        rule = cls(site_id=site.id, recipient=recipient, match_field=match_field, match_value=match_value,
                   mode=mode if recipient in ("email", "author") else "instant", token=token, target="")
        if recipient == "editor":
            editor = Editor.find(target)
            if editor is None:
                raise Refused(_("No editor has the email %(email)s.", email=target))
            rule.editor_id = editor.id
        elif recipient in CHANNELS:
            rule.target = target
        if recipient == "webhook":
            rule.secret = new_webhook_secret()
        same = rule._same()
        if same is not None:
            raise Refused(_("The site has this rule already (rule %(rule)s).", rule=same))
        # Two admins adding the same rule at once: the unique index refuses the second.
        _save(rule, Refused(_("The site has this rule already (rule %(rule)s).", rule=rule._same() or "…")))
        return rule

    @so.validates("match_value")
    def _keyed(self, _name, value):
        """Keep ``match_key`` with ``match_value``, however the rule is made."""
        self.match_key = match_key(value)
        return value

    def _same(self):
        """The id of the site's rule that is this one (same recipient, target, match), if any."""
        who = (Rule.editor_id == self.editor_id if self.editor_id is not None
               else sa.and_(Rule.editor_id.is_(None), Rule.recipient == self.recipient, Rule.target == self.target))
        return db.session.scalar(sa.select(Rule.id).where(
            Rule.site_id == self.site_id, who, Rule.match_field == self.match_field,
            Rule.match_key == match_key(self.match_value)))

    @classmethod
    def for_new_site(cls, site):
        """The rules a new site starts with: everyone on the desk hears its reports, each in
        their own mode (the daily digest unless they choose otherwise under Account)."""
        return [cls(site=site, recipient="everyone")]

    @classmethod
    def of_site(cls, site):
        return db.session.scalars(sa.select(cls).where(cls.site_id == site.id).order_by(cls.id)).all()

    @classmethod
    def find(cls, site, rule_id):
        """The rule with this id on this site; None if none (also for another site's rule)."""
        return db.session.scalar(sa.select(cls).where(cls.id == rule_id, cls.site_id == site.id))

    def remove(self):
        """Cancel the rule's pending deliveries, then delete it; answers how many were
        cancelled. The caller commits."""
        from .deliveries import cancel_for_rule
        cancelled = cancel_for_rule(self)
        db.session.delete(self)
        return cancelled

    def rotate_secret(self):
        """A new webhook signing secret, returned to be shown once; the replaced one still
        signs (a second signature) for ``SECRET_OVERLAP``. The caller commits."""
        if self.recipient != "webhook":
            raise Refused(_("Only a webhook rule has a signing secret."))
        self.previous_secret, self.previous_secret_until = self.secret, utcnow() + self.SECRET_OVERLAP
        self.secret = new_webhook_secret()
        return self.secret

    @property
    def reaches_email(self):
        return self.recipient in self.PEOPLE or self.recipient == "email"

    @property
    def shown_target(self):
        """Who or where, as admins see it: secrets and tokens masked."""
        if self.recipient == "everyone":
            return _("every editor")
        if self.recipient == "editor":
            return self.editor.email if self.editor else _("(editor removed)")
        if self.recipient == "author":
            return _("the article's author")
        if self.recipient in ("webhook", "slack"):
            shown = mask_target(self.recipient, self.target)
            return (_("%(target)s (secret %(secret)s)", target=shown, secret=mask_secret(self.secret))
                    if self.recipient == "webhook" else shown)
        if self.recipient == "telegram":
            return _("chat %(chat)s (bot token %(token)s)", chat=self.target, token=mask_token(self.token))
        return self.target

    @property
    def hears(self):
        """What the rule hears, in words."""
        if not self.match_field:
            return _("every report")
        return {"section": _("section “%(value)s”", value=self.match_value),
                "author": _("author “%(value)s”", value=self.match_value),
                "kind": _("kind “%(value)s”", value=self.match_value)}.get(self.match_field, self.match_value)

    @property
    def shown_mode(self):
        if self.recipient in ("everyone", "editor"):
            return _("each editor's choice")
        if self.recipient == "author":
            return _("editors: their choice; addresses: %(mode)s", mode=self.mode)
        return self.mode if self.recipient == "email" else "instant"

    def addresses(self):
        """The email addresses a people rule reaches now, for a test: editors who see the site
        and have not turned it off; for "author", every author contact of the site."""
        if self.recipient == "author":
            return sorted({contact.address for contact in AuthorContact.of_site(self.site)})
        if self.recipient not in ("everyone", "editor"):
            return []
        off = sa.select(Preference.editor_id).where(Preference.site_id == self.site_id, Preference.mode == "off")
        editors = sa.select(Editor.email).where(Editor.seeing_site(self.site_id), Editor.id.not_in(off))
        if self.recipient == "editor":
            editors = editors.where(Editor.id == self.editor_id)
        return list(db.session.scalars(editors.order_by(Editor.email)))

    def test(self, deadline=None):
        """Send a test through the rule now: one ``Outcome`` per address or channel. Past
        ``deadline`` (a ``time.monotonic()`` value) nothing more is tried: each target left
        is answered "not tried", so a test of many rules ends in a time a request can wait."""
        from . import channels
        if self.recipient not in self.PEOPLE:
            return [_tried(self, self.shown_target, lambda: channels.send_test(self), deadline)]
        addresses = self.addresses()
        if not addresses:
            nobody = (_("no author contacts yet") if self.recipient == "author"
                      else _("no active editor hears this site"))
            return [Outcome(self, self.shown_target, "nobody", nobody)]
        return [_tried(self, address, lambda address=address: channels.send_test_email(address, self.site),
                       deadline) for address in addresses]

    def __repr__(self):
        return f"<Rule {self.id} {self.recipient} {self.target!r}>"


# How long "Send a test" may take in all (a request must not outlive the server's timeout).
TEST_BUDGET_SECONDS = 20


def test_deadline():
    import time
    return time.monotonic() + TEST_BUDGET_SECONDS


class Outcome(NamedTuple):
    """What a test through one rule did for one target: state "ok", "failed" (``detail``:
    the error, safe to show), "nobody" (nothing to send to; ``detail`` says why) or "not
    tried" (the test's time ran out first)."""
    rule: Rule
    target: str
    state: str
    detail: str = ""


def _tried(rule, target, send, deadline=None):
    import time

    from .channels import SendError
    if deadline is not None and time.monotonic() >= deadline:
        return Outcome(rule, target, "not tried",
                       _("the test ran out of its %(seconds)d s before reaching it", seconds=TEST_BUDGET_SECONDS))
    try:
        send()
    except SendError as err:
        return Outcome(rule, target, "failed", str(err) or type(err).__name__)
    return Outcome(rule, target, "ok")


def mask_url(url, keep_last=0):
    """A URL as admins see it, the one way every page and command shows one: its origin
    only (a webhook's path or query often holds its secret: Slack, Discord, Teams, Zapier),
    and with ``keep_last`` the last characters, to tell two URLs on one host apart."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    if keep_last and (parts.path.strip("/") or parts.query):
        shown += "/…" + url[-keep_last:]
    return shown


def mask_target(channel, target):
    """A rule's or delivery's target as admins see it: a Slack or webhook URL masked
    (``mask_url``; Slack keeps its last 4 characters), an address or chat id as it is."""
    if channel in ("slack", "webhook"):
        return mask_url(target, keep_last=4 if channel == "slack" else 0)
    return target


def mask_secret(secret):
    return "whsec_…" + secret[-4:] if secret else "none"


def mask_token(token):
    """A bot token's number (public) and the last characters of its secret part."""
    number, _, rest = token.partition(":")
    return f"{number}:…{rest[-3:]}" if rest else "…"


class Preference(db.Model):
    """How one editor hears one site; no row means the default (daily digest)."""
    __tablename__ = "notify_preference"

    editor_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("editor.id", ondelete="CASCADE"), primary_key=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)
    mode: so.Mapped[str] = so.mapped_column(sa.String(16), default=DEFAULT_MODE)

    @classmethod
    def modes_of(cls, editor):
        """{site id: mode} of the sites the editor has chosen a mode for."""
        return dict(db.session.execute(sa.select(cls.site_id, cls.mode).where(cls.editor_id == editor.id)).all())

    @classmethod
    def mode_for(cls, editor, site):
        return cls.modes_of(editor).get(site.id, DEFAULT_MODE)

    @classmethod
    def choose(cls, editor, site_id, mode):
        """Store how the editor hears the site (a mode ``PreferenceSchema`` loaded), in one
        statement: a form sent twice at once updates the row the other inserted. The caller
        commits."""
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(cls).values(editor_id=editor.id, site_id=site_id, mode=mode)
        db.session.execute(statement.on_conflict_do_update(
            index_elements=[cls.editor_id, cls.site_id], set_={"mode": statement.excluded.mode}))


class AuthorContact(db.Model):
    """Where reports about one author's articles go: an address or an editor."""
    __tablename__ = "notify_author"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    # As the page declares it, and casefolded with spaces collapsed (what lookups compare).
    author: so.Mapped[str] = so.mapped_column(sa.String(200))
    author_key: so.Mapped[str] = so.mapped_column(sa.String(200))
    email: so.Mapped[str] = so.mapped_column(sa.String(254), default="")
    editor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("editor.id", ondelete="CASCADE"))

    editor = so.relationship("Editor")

    __table_args__ = (sa.UniqueConstraint("site_id", "author_key"),)

    @classmethod
    def of_site(cls, site):
        return db.session.scalars(sa.select(cls).where(cls.site_id == site.id).order_by(cls.author_key)).all()

    @classmethod
    def find(cls, site, author):
        return db.session.scalar(sa.select(cls).where(cls.site_id == site.id,
                                                      cls.author_key == match_key(author)))

    @classmethod
    def set(cls, site, author, address):
        """Reports on ``author``'s articles go to ``address``: the editor with that email
        (who hears in their own mode), else the plain address. Replaces the author's
        earlier contact; stored. Takes what ``AuthorContactSchema`` loads."""
        contact = cls.find(site, author) or cls(site_id=site.id, author_key=match_key(author))
        editor = Editor.find(address)
        contact.author = author
        contact.editor_id, contact.email = (editor.id, "") if editor else (None, address)
        contact.editor = editor
        _save(contact, Refused(_("A contact for “%(author)s” was saved meanwhile; please try again.", author=author)))
        return contact

    def remove(self):
        """The caller commits."""
        db.session.delete(self)

    @property
    def address(self):
        return self.editor.email if self.editor_id else self.email


class Delivery(db.Model):
    __tablename__ = "delivery"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Stable across retries: the webhook-id, and the email's Message-ID.
    public_id: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True,
                                                  default=lambda: "msg_" + secrets.token_hex(12))
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    rule_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("notify_rule.id", ondelete="SET NULL"))
    # The editor an email is for: read again at send time (deactivated: cancelled; their
    # address now). Deleting the editor deletes what was owed them, so it is never sent.
    editor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("editor.id", ondelete="CASCADE"))
    # The reader's submission a "reader-thanks" goes to (its address is read at send time).
    submission_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("submission.id", ondelete="SET NULL"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(16), default="report")
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    # Email address, URL or chat id, as shown to admins ("" for a reader: never shown).
    recipient: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # Deliveries with one key and one due time are one message (a digest gathers its reports).
    recipient_key: so.Mapped[str] = so.mapped_column(sa.Text)
    mode: so.Mapped[str] = so.mapped_column(sa.String(16), default="instant")
    state: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    due_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    # While "sending": the worker that claimed it, and when the claim lapses if it dies.
    claimed_by: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    lease_until: so.Mapped[Optional[datetime]] = so.mapped_column()
    last_error: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    sent_at: so.Mapped[Optional[datetime]] = so.mapped_column()

    site = so.relationship("Site")
    rule = so.relationship(Rule)
    editor = so.relationship("Editor")
    items: so.Mapped[list["DeliveryItem"]] = so.relationship(
        back_populates="delivery", cascade="all, delete-orphan", passive_deletes=True,
        order_by="DeliveryItem.id")

    __table_args__ = (
        # What is due: the worker's claim reads this index only.
        sa.Index("ix_delivery_due", "next_attempt_at",
                 sqlite_where=sa.text("state IN ('pending', 'sending')"),
                 postgresql_where=sa.text("state IN ('pending', 'sending')")),
        # The one pending digest per recipient and period that new reports join.
        sa.Index("ix_delivery_digest", "recipient_key", "due_at", unique=True,
                 sqlite_where=sa.text("state = 'pending' AND mode IN ('hourly', 'daily')"),
                 postgresql_where=sa.text("state = 'pending' AND mode IN ('hourly', 'daily')")),
        sa.Index("ix_delivery_site_id_id", "site_id", "id"),
        # What ON DELETE (and removing a rule, thanking readers) looks up; mostly NULL.
        sa.Index("ix_delivery_rule_id", "rule_id",
                 sqlite_where=sa.text("rule_id IS NOT NULL"), postgresql_where=sa.text("rule_id IS NOT NULL")),
        sa.Index("ix_delivery_editor_id", "editor_id",
                 sqlite_where=sa.text("editor_id IS NOT NULL"), postgresql_where=sa.text("editor_id IS NOT NULL")),
        sa.Index("ix_delivery_submission_id", "submission_id",
                 sqlite_where=sa.text("submission_id IS NOT NULL"),
                 postgresql_where=sa.text("submission_id IS NOT NULL")),
    )

    @hybrid_property
    def retryable(self):
        """What an admin may retry: a failed delivery, or a pending one backing off after a
        failed attempt (never one not yet due, such as a digest still gathering reports)."""
        return self.state == "failed" or (self.state == "pending" and self.attempts > 0)

    @retryable.expression
    def retryable(cls):
        return sa.or_(cls.state == "failed", sa.and_(cls.state == "pending", cls.attempts > 0))

    @classmethod
    def cancel_pending(cls, why, *conditions):
        """Cancel the pending deliveries meeting ``conditions``, saying ``why`` (one a worker is
        sending finishes; the send-time checks stop a later claim). Answers how many. The caller
        commits."""
        return db.session.execute(
            sa.update(cls).where(cls.state == "pending", *conditions).values(state="cancelled", last_error=why),
            execution_options={"synchronize_session": False}).rowcount

    def __repr__(self):
        return f"<Delivery {self.id} {self.kind} {self.channel} {self.state}>"


class DeliveryItem(db.Model):
    __tablename__ = "delivery_item"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    delivery_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("delivery.id", ondelete="CASCADE"), index=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"), index=True)
    reason: so.Mapped[str] = so.mapped_column(sa.String(16), default="new")
    # How many readers had sent the report when it was announced.
    count: so.Mapped[int] = so.mapped_column(default=1)

    delivery: so.Mapped[Delivery] = so.relationship(back_populates="items")
    report = so.relationship("Report")


class Job(db.Model):
    """A scheduled background job (the retention purge, page checks): one row each, claimed
    by moving ``next_run_at`` forward, so one worker runs it however many are running."""
    __tablename__ = "job"

    name: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    next_run_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_run_at: so.Mapped[Optional[datetime]] = so.mapped_column()
    last_outcome: so.Mapped[str] = so.mapped_column(sa.Text, default="")
