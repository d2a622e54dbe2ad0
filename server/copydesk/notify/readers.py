"""Closing the loop with the reader: "tell me when it's fixed".

A site may offer readers an optional email field (``Site.reader_followup``); the address
is kept in ``Submission.reader_email`` for one use. When the report is closed as fixed,
each such submission gets one ``reader-thanks`` delivery (the worker sends it through
``channels.send`` and then calls ``forget_address``); any other resolution erases the
addresses at once. Editors see an address only masked (``mask``); nothing else reads it,
and ``retention.purge`` erases any left behind.
"""

import sqlalchemy as sa

from ..db import db
from ..models import Submission
from .models import Delivery, DeliveryItem

KIND = "reader-thanks"


def recipient_key(submission_id):
    return f"reader:{submission_id}"


def thank_readers(report):
    """Owe one thank-you to each address left on ``report`` (called when it is closed as
    fixed); answers how many. An address left by several of its submissions is thanked once;
    one already owed a thank-you (closed as fixed, reopened and closed again before it went
    out) is not owed a second. The caller commits."""
    # The report's closing is written first: a repeat filed from now on waits for the commit
    # and then opens a new report; one filed before is among the submissions read below.
    db.session.flush()
    left = db.session.execute(
        sa.select(Submission.id, Submission.reader_email)
        .where(Submission.report_id == report.id, Submission.reader_email.is_not(None))
        .order_by(Submission.id)).all()
    if not left:
        return 0
    owed = set(db.session.scalars(
        sa.select(Submission.reader_email).join(Delivery, Delivery.submission_id == Submission.id)
        .where(Submission.report_id == report.id, Delivery.kind == KIND,
               Delivery.state.in_(("pending", "sending")))))
    owed = {address.casefold() for address in owed if address}
    submissions = []
    for submission_id, address in left:
        if address.casefold() not in owed:
            owed.add(address.casefold())
            submissions.append(submission_id)
    for submission_id in submissions:
        db.session.add(Delivery(
            kind=KIND, channel="email", recipient="", recipient_key=recipient_key(submission_id),
            submission_id=submission_id, site_id=report.site_id, mode="instant",
            items=[DeliveryItem(report_id=report.id)]))
    return len(submissions)


def cancel_thanks(report):
    """Cancel the thank-yous still owed for ``report`` (it was reopened: not fixed after all);
    the addresses stay for a later close. One a worker is sending already goes out. The
    caller commits."""
    # Read first: nearly every report has none, and a write would take SQLite's lock early.
    owed = db.session.scalars(
        sa.select(Delivery.id).join(Submission, Submission.id == Delivery.submission_id)
        .where(Submission.report_id == report.id, Delivery.kind == KIND, Delivery.state == "pending")).all()
    if owed:
        Delivery.cancel_pending("The report was reopened before the thank-you went out.", Delivery.id.in_(owed))


def forget_addresses(report):
    """Erase the addresses readers left on ``report`` (closed as anything but fixed): nobody
    will write to them. Answers how many went. The caller commits."""
    left = db.session.scalars(sa.select(Submission.id).where(
        Submission.report_id == report.id, Submission.reader_email.is_not(None))).all()
    if left:
        db.session.execute(sa.update(Submission).where(Submission.id.in_(left)).values(reader_email=None),
                           execution_options={"synchronize_session": False})
    return len(left)


def forget_address(delivery):
    """Erase the address a ``reader-thanks`` delivery was for, once it was sent or given up
    (the worker calls it): on its submission, and on any other submission of the same
    report that left the same address (thanked once for them all). The caller commits."""
    if delivery.kind != KIND or delivery.submission_id is None:
        return
    submission = db.session.execute(sa.select(Submission.report_id, Submission.reader_email)
                                    .where(Submission.id == delivery.submission_id)).first()
    if submission is None or submission.reader_email is None:
        return
    left = db.session.execute(sa.select(Submission.id, Submission.reader_email).where(
        Submission.report_id == submission.report_id, Submission.reader_email.is_not(None))).all()
    ids = [sid for sid, address in left if address.casefold() == submission.reader_email.casefold()]
    db.session.execute(
        sa.update(Submission).where(Submission.id.in_(ids)).values(reader_email=None),
        execution_options={"synchronize_session": False})


def mask(address):
    """An address as editors see it: its first character and its domain (j•••@example.com)."""
    if not address:
        return ""
    local, _at, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else "•••"
