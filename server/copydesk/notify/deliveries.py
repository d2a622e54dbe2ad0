"""What the desk owes whom, in the database: planned from reports, claimed by workers, sent.

The database is the queue. A report is filed with ``notify_due`` set (and set again when
its readers reach a milestone, ``REPEAT_MILESTONES``); ``plan`` claims due reports and turns
each into deliveries in one transaction. A worker claims due deliveries with one UPDATE
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers share them; SQLite runs
one writer at a time), marks them "sending" under a lease, sends, and records the outcome
only if its claim still holds. Each claim has its own token (``claimed_by``), and a send
in progress renews its lease (``_Lease``), so no claim, not even this worker's next one,
takes a message still being sent. A worker that dies mid-send leaves its claim to lapse;
the next worker sends again, with the same ``public_id`` (the email's Message-ID, the
webhook-id), so receivers can tell it is the same message.
"""

import logging
import os
import random
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple, Optional

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ..db import db
from ..intake import write_lock
from ..models import Editor, Report, utcnow
from .models import DIGEST_MODES, Delivery, DeliveryItem, Preference, mask_target
from .rules import recipients_for, site_routing

logger = logging.getLogger(__name__)

# What every claim reads: ix_delivery_due's predicate, written as the index has it.
_ACTIVE = sa.text("delivery.state IN ('pending', 'sending')")
# Longest error kept on a delivery (admins read it on the site's page).
MAX_ERROR = 500
# The kind of delivery telling an editor a report was assigned to them.
ASSIGNED = "assigned"


def worker_id():
    """Who holds a claim: host, process and a random part (a pid can be reused)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


# --- Planning: due reports become deliveries ---------------------------------------------

def _due_reports(limit):
    # ``where(Report.notify_due)`` is "notify_due = 1" on SQLite and "notify_due" on
    # PostgreSQL: each the predicate of its partial index ix_report_notify_due.
    return (sa.select(Report.id).where(Report.notify_due).order_by(Report.id).limit(limit)
            .with_for_update(skip_locked=True))


def plan(limit=100):
    """Claim up to ``limit`` reports due for announcement and create their deliveries, in
    one transaction; answers how many reports were claimed. Safe with several workers:
    each due report is claimed by one. Reads first: an idle worker writes nothing (a
    write would take SQLite's lock, which intake needs)."""
    due = db.session.scalar(sa.select(Report.id).where(Report.notify_due).limit(1))
    db.session.rollback()
    if due is None:
        return 0
    with write_lock(db.engine):  # on SQLite: take turns with intake rather than poll for the lock
        return _plan(limit)


def _plan(limit):
    now = utcnow()
    claimed = db.session.execute(
        sa.update(Report).where(Report.notify_due, Report.id.in_(_due_reports(limit)))
        .values(notify_due=False)
        .returning(Report.id, Report.announced_count, Report.submission_count, Report.status),
        execution_options={"synchronize_session": False}).all()
    if not claimed:
        db.session.rollback()
        return 0
    # A report closed meanwhile (spam, not an error…) is not announced; its flag is cleared.
    ids = [row.id for row in claimed if row.status != "closed"]
    was_announced = {row.id: row.announced_count > 0 for row in claimed}
    # Our claim holds the rows until commit: no join can move submission_count meanwhile.
    db.session.execute(sa.update(Report).where(Report.id.in_(ids))
                       .values(announced_count=Report.submission_count),
                       execution_options={"synchronize_session": False})
    sites, owed = {}, []
    for report in db.session.scalars(sa.select(Report).where(Report.id.in_(ids)).order_by(Report.id)):
        site = sites.get(report.site_id) or sites.setdefault(report.site_id, site_routing(report.site_id))
        reason = "repeat" if was_announced[report.id] else "new"
        owed += [(report, recipient, reason) for recipient in recipients_for(report, site)]
    # The digests first, locked in one order by every planner, so two never wait on each other.
    digests = {}  # (recipient_key, due): digest id
    for report, recipient, _reason in sorted(
            (entry for entry in owed if entry[1].mode in DIGEST_MODES),
            key=lambda entry: (entry[1].recipient_key, digest_due(entry[1].mode, now))):
        due = digest_due(recipient.mode, now)
        if (recipient.recipient_key, due) not in digests:
            digests[recipient.recipient_key, due] = _digest(report, recipient, due)
    for report, recipient, reason in owed:
        item = DeliveryItem(report_id=report.id, reason=reason, count=report.submission_count)
        if recipient.mode in DIGEST_MODES:
            item.delivery_id = digests[recipient.recipient_key, digest_due(recipient.mode, now)]
            db.session.add(item)
        else:
            db.session.add(Delivery(kind="report", due_at=now, next_attempt_at=now, items=[item],
                                    **_delivery_fields(report, recipient)))
    db.session.commit()
    return len(claimed)


def digest_due(mode, now):
    """When a digest gathering reports now goes out: the top of the next hour, or the next
    DIGEST_HOUR (UTC) for a daily one."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    if mode == "hourly":
        return hour + timedelta(hours=1)
    due = hour.replace(hour=int(current_app.config["DIGEST_HOUR"]))
    return due if due > now else due + timedelta(days=1)


def _delivery_fields(report, recipient):
    return dict(site_id=report.site_id, rule_id=recipient.rule_id, editor_id=recipient.editor_id,
                channel=recipient.channel, recipient=mask_target(recipient.channel, recipient.address),
                recipient_key=recipient.recipient_key, mode=recipient.mode)


def _digest(report, recipient, due):
    """The id of the recipient's pending digest due then, locked, or of a new one."""
    for _attempt in range(5):
        digest = _pending_digest(recipient.recipient_key, due)
        if digest is not None:
            return digest.id
        try:
            # A savepoint: another worker may create this digest in the same instant; the
            # unique index ix_delivery_digest refuses the second, which then joins it.
            with db.session.begin_nested():
                digest = Delivery(kind="digest", due_at=due, next_attempt_at=due,
                                  **_delivery_fields(report, recipient))
                db.session.add(digest)
            return digest.id
        except sa.exc.IntegrityError:
            continue
    raise RuntimeError(f"could not join the digest {recipient.recipient_key} due {due}")


def _pending_digest(recipient_key, due):
    """The pending digest to join, locked so no worker claims it before this item is in
    (a claim skips it meanwhile; one that won the race leaves it no longer pending)."""
    return db.session.scalar(
        sa.select(Delivery).where(Delivery.recipient_key == recipient_key, Delivery.due_at == due,
                                  Delivery.state == "pending", Delivery.mode.in_(DIGEST_MODES))
        .with_for_update())


# --- Sending: claim, send, record --------------------------------------------------------

def lease_seconds():
    return 2 * float(current_app.config["NOTIFY_TIMEOUT_SECONDS"]) + 10


class Claim(NamedTuple):
    """A delivery claimed for sending, and the claim's own token (its ``claimed_by``)."""
    delivery_id: int
    claimed_by: str


def _claimable(now):
    """Due deliveries: pending ones due now, and ones being sent whose claim lapsed. Email
    waits, untouched (no attempt counted, no give-up), while COPYDESK_SMTP_URL is unset."""
    conditions = [_ACTIVE, Delivery.next_attempt_at <= now]
    if not current_app.config["SMTP_URL"]:
        conditions.append(Delivery.channel != "email")
    return conditions


def claim(worker, limit):
    """Claim up to ``limit`` due deliveries for ``worker`` (a ``worker_id``): pending ones
    due now, and ones being sent whose claim lapsed (their worker died). Answers a
    ``Claim`` for each, by id; the claim's token is new each time, so a later claim of the
    same delivery (even by this worker) is told apart. While claimed, ``next_attempt_at``
    is when the claim lapses unless renewed."""
    now = utcnow()
    # Read first: an idle worker writes nothing (a write would take SQLite's lock).
    if db.session.scalar(sa.select(Delivery.id).where(*_claimable(now)).limit(1)) is None:
        db.session.rollback()
        return []
    claimed_by = f"{worker}/{secrets.token_hex(3)}"
    lease_until = now + timedelta(seconds=lease_seconds())
    due = (sa.select(Delivery.id).where(*_claimable(now))
           .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit).with_for_update(skip_locked=True))
    with write_lock(db.engine):
        ids = db.session.scalars(
            sa.update(Delivery).where(*_claimable(now), Delivery.id.in_(due))
            .values(state="sending", claimed_by=claimed_by, lease_until=lease_until, next_attempt_at=lease_until,
                    attempts=Delivery.attempts + 1,
                    # The give-up time counts from the first attempt (an email may have
                    # waited days for COPYDESK_SMTP_URL) or from an admin's retry.
                    due_at=sa.case((Delivery.attempts == 0, now), else_=Delivery.due_at))
            .returning(Delivery.id), execution_options={"synchronize_session": False}).all()
        db.session.commit()
    return [Claim(delivery_id, claimed_by) for delivery_id in sorted(ids)]


class _Lease:
    """While a send is in progress, renew its claim's lease every third of it (in a thread
    with its own session), so a send slower than the lease (a greylisting mail server that
    answers each command late) is never claimed again meanwhile. A worker that dies stops
    renewing, and its claim lapses as before."""

    def __init__(self, delivery_id, claimed_by):
        self.delivery_id, self.claimed_by = delivery_id, claimed_by
        self.app = current_app._get_current_object()
        self.seconds = lease_seconds()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._renew, name="copydesk-lease", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.done.set()
        self.thread.join()

    def _renew(self):
        while not self.done.wait(self.seconds / 3):
            try:
                with self.app.app_context():
                    if not renew(self.delivery_id, self.claimed_by, self.seconds):
                        logger.warning("delivery %s: its claim lapsed while it was being sent", self.delivery_id)
                        return
            except sa.exc.SQLAlchemyError:
                logger.exception("delivery %s: could not renew its lease", self.delivery_id)


def renew(delivery_id, claimed_by, seconds):
    """Move the lease of a claim still held ``seconds`` ahead; answers whether it held."""
    lease_until = utcnow() + timedelta(seconds=seconds)
    with write_lock(db.engine):
        changed = db.session.execute(
            sa.update(Delivery).where(Delivery.id == delivery_id, Delivery.state == "sending",
                                      Delivery.claimed_by == claimed_by)
            .values(lease_until=lease_until, next_attempt_at=lease_until),
            execution_options={"synchronize_session": False}).rowcount
        db.session.commit()
    return bool(changed)


@dataclass
class Attempt:
    """What became of one attempt: ``state`` (sent, pending, failed, cancelled) and the
    error, if any."""
    delivery_id: int
    public_id: str
    channel: str
    kind: str
    site_id: int
    state: str
    attempts: int
    error: str = ""
    wait: Optional[float] = None

    def __str__(self):
        text = (f"delivery {self.public_id} ({self.kind} by {self.channel}, site {self.site_id}): "
                f"{self.state} after {self.attempts} attempt(s)")
        if self.error:
            text += f": {self.error}"
        if self.wait is not None:
            text += f"; next try in {self.wait:.0f} s"
        return text


def retry_delay(attempts):
    """Seconds before the next try after ``attempts`` failed ones: doubling from
    NOTIFY_RETRY_SECONDS up to NOTIFY_RETRY_MAX_SECONDS, with jitter (a random half to all
    of it) so deliveries that failed together do not all retry together."""
    config = current_app.config
    base, cap = float(config["NOTIFY_RETRY_SECONDS"]), float(config["NOTIFY_RETRY_MAX_SECONDS"])
    return min(cap, base * 2 ** min(max(attempts - 1, 0), 60)) * random.uniform(0.5, 1.0)


def _editor_check(delivery):
    """An editor's message is for the editor as they are now: None to send it (to their
    current address, set on ``delivery``), or why it is cancelled."""
    if delivery.channel != "email" or delivery.editor_id is None or delivery.kind not in ("report", "digest",
                                                                                           ASSIGNED):
        return None
    editor = db.session.get(Editor, delivery.editor_id)
    if editor is None or not editor.active:
        return _("The editor was deactivated before it went out.")
    if not editor.sees_site(delivery.site_id):
        return _("The editor was taken off the site before it went out.")
    if delivery.kind == ASSIGNED:
        # Meant for them alone, whatever they chose to hear of the site's reports.
        delivery.recipient = editor.email
        return None
    mode = db.session.scalar(sa.select(Preference.mode).where(Preference.editor_id == editor.id,
                                                              Preference.site_id == delivery.site_id))
    if mode == "off":
        return _("The editor turned this site's notifications off before it went out.")
    delivery.recipient = editor.email
    return None


def send_claimed(delivery_id, claimed_by):
    """Send one delivery claimed as ``claimed_by`` (a ``Claim``'s token) and record the
    outcome (in the current app context and session). Answers an ``Attempt``, or None when
    the claim no longer holds."""
    from . import channels

    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.state != "sending" or delivery.claimed_by != claimed_by:
        db.session.rollback()
        return None
    facts = dict(delivery_id=delivery.id, public_id=delivery.public_id, channel=delivery.channel,
                 kind=delivery.kind, site_id=delivery.site_id, attempts=delivery.attempts)
    due_at = delivery.due_at
    # Read at send time, not when planned: an editor deactivated meanwhile hears nothing.
    cancelled = _editor_check(delivery)
    if cancelled:
        db.session.rollback()
        return _record(Attempt(state="cancelled", error=cancelled, **facts), claimed_by,
                       state="cancelled", last_error=cancelled)
    recipient = delivery.recipient
    try:
        # no_autoflush: the address set above must not be written (and SQLite's lock taken)
        # while the message goes out; the outcome writes it.
        with db.session.no_autoflush, _Lease(delivery_id, claimed_by):
            channels.send(delivery)
    except channels.SendError as error:
        permanent, message = error.permanent, _error_text(error)
    except sa.exc.SQLAlchemyError:
        raise  # the database is away: the outcome could not be written either; the claim lapses
    except Exception as error:  # noqa: BLE001 - a bug must not stop the queue: retried, then given up
        logger.exception("delivery %s: unexpected error while sending", facts["public_id"])
        permanent, message = False, _("Unexpected error (%(error)s); see the worker's log.",
                                      error=error.__class__.__name__)
    else:
        db.session.rollback()  # what sending read ends here: the outcome is a transaction of its own
        return _record(Attempt(state="sent", **facts), claimed_by, state="sent", last_error="", sent_at=utcnow(),
                       recipient=recipient)
    db.session.rollback()
    give_up = due_at + timedelta(hours=float(current_app.config["NOTIFY_GIVE_UP_HOURS"]))
    if permanent or utcnow() >= give_up:
        if not permanent:
            message = _("Gave up after %(num)d attempt(s): %(error)s", num=facts["attempts"], error=message)[:MAX_ERROR]
        return _record(Attempt(state="failed", error=message, **facts), claimed_by, state="failed",
                       last_error=message, recipient=recipient)
    wait = retry_delay(facts["attempts"])
    return _record(Attempt(state="pending", error=message, wait=wait, **facts), claimed_by,
                   state="pending", last_error=message, next_attempt_at=utcnow() + timedelta(seconds=wait),
                   recipient=recipient)


def _error_text(error):
    text = " ".join(str(error).split()) or error.__class__.__name__
    return text[:MAX_ERROR]


def _record(outcome, claimed_by, **values):
    """Write an attempt's outcome, only if its claim still holds (a worker that outlived
    its lease must not overwrite a later attempt's outcome)."""
    values.update(claimed_by="", lease_until=None)
    if values["state"] != "pending":
        values["next_attempt_at"] = utcnow()
    with write_lock(db.engine):
        return _record_claimed(outcome, claimed_by, values)


def _record_claimed(outcome, claimed_by, values):
    changed = db.session.execute(
        sa.update(Delivery).where(Delivery.id == outcome.delivery_id, Delivery.state == "sending",
                                  Delivery.claimed_by == claimed_by).values(**values),
        execution_options={"synchronize_session": False}).rowcount
    if not changed:
        db.session.rollback()
        logger.warning("delivery %s: claim lapsed before its outcome (%s) was recorded",
                       outcome.public_id, outcome.state)
        return None
    if outcome.kind == "reader-thanks" and outcome.state in ("sent", "failed"):
        from .readers import forget_address
        forget_address(db.session.get(Delivery, outcome.delivery_id))
    db.session.commit()
    return outcome


# --- Admin actions -------------------------------------------------------------------------

def retry(delivery):
    """Try a failed delivery, or a pending one backing off, again now (an admin's "Retry");
    the attempts so far and the last error stay until the next attempt, and the give-up
    time counts from now. Answers whether it changed. Commits."""
    if not delivery.retryable:
        return False
    now = utcnow()
    changed = db.session.execute(
        sa.update(Delivery).where(Delivery.id == delivery.id, Delivery.retryable)
        .values(state="pending", next_attempt_at=now, due_at=now),
        execution_options={"synchronize_session": False}).rowcount
    db.session.commit()
    db.session.refresh(delivery)
    return bool(changed)


def cancel_for_editor(editor):
    """Cancel what is owed to an editor being deactivated (what is sending finishes; the
    send-time check stops a later claim). Answers how many. The caller commits."""
    return Delivery.cancel_pending("The editor was deactivated.", Delivery.editor_id == editor.id)


def cancel_for_sites(editor, site_ids):
    """Cancel what is owed to an editor about sites they were taken off, digests and
    assignments included (what is sending finishes; the send-time check stops a later
    claim). Answers how many. The caller commits."""
    return Delivery.cancel_pending("The editor was taken off the site.", Delivery.editor_id == editor.id,
                                   Delivery.site_id.in_(site_ids))


def cancel_for_rule(rule):
    """Cancel what a rule being removed still owes: its pending deliveries, except digests,
    which may gather reports other rules route to the same person. Answers how many. The
    caller commits (and deletes the rule)."""
    return Delivery.cancel_pending("Its rule was removed.", Delivery.rule_id == rule.id, Delivery.kind != "digest")


# --- Assignment, deletion, erasure -----------------------------------------------------------

def announce_assignment(report, assignee):
    """Owe ``assignee`` one email now: the report is theirs. No rule is needed: it is for them
    alone. The caller commits."""
    db.session.add(Delivery(kind=ASSIGNED, channel="email", site_id=report.site_id, editor_id=assignee.id,
                            recipient=assignee.email, recipient_key=f"assigned:{assignee.id}", mode="instant",
                            items=[DeliveryItem(report_id=report.id, reason=ASSIGNED,
                                                count=report.submission_count)]))


def _about(report_id):
    return sa.select(DeliveryItem.delivery_id).where(DeliveryItem.report_id == report_id)


def cancel_assignment(report):
    """Cancel the assignment email still owed for ``report`` (it went to someone else, or to
    nobody, before it was sent). The caller commits."""
    Delivery.cancel_pending("The report was assigned again before it went out.", Delivery.kind == ASSIGNED,
                            Delivery.id.in_(_about(report.id)))


def cancel_for_report(report):
    """Cancel what is owed about ``report`` alone (it is being deleted): every pending delivery
    whose only report it is. A digest with other reports sends those. The caller commits."""
    others = sa.exists().where(DeliveryItem.delivery_id == Delivery.id, DeliveryItem.report_id != report.id)
    Delivery.cancel_pending("Its report was deleted.", Delivery.id.in_(_about(report.id)), ~others)


def cancel_for_submission(submission):
    """Cancel a thank-you still owed to the reader of ``submission`` (it is being erased).
    The caller commits."""
    Delivery.cancel_pending("The reader's submission was erased.", Delivery.submission_id == submission.id)
