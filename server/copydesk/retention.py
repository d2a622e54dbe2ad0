"""How long the desk keeps what readers leave about themselves: ``purge`` erases the
personal fields of old submissions, and the old messages the desk sent (or gave up or
cancelled), which name their recipients (``copydesk purge``, and the worker daily when
RETENTION_DAYS is set). Reports, comments and suggestions stay."""

from datetime import timedelta

import sqlalchemy as sa

from .db import db
from .models import Submission, utcnow
from .notify.models import Delivery


def purge(days):
    """Erase the IP hash, user agent and reader's address of submissions older than ``days``
    days, delete the deliveries done with (sent, failed, cancelled) created before then
    (their items go with them), and commit. Answers how many went: ``{"submissions": n,
    "reader_addresses": m, "deliveries": d}`` (``submissions``: those whose IP hash or user
    agent went)."""
    cutoff = utcnow() - timedelta(days=int(days))
    old = Submission.created_at < cutoff
    # Counted apart: an address is the one field a reader chose to give, and the README promises it goes.
    addresses = db.session.execute(
        sa.update(Submission).where(old, Submission.reader_email.is_not(None)).values(reader_email=None),
        execution_options={"synchronize_session": False}).rowcount
    submissions = db.session.execute(
        sa.update(Submission)
        .where(old, sa.or_(Submission.ip_hash.is_not(None), Submission.user_agent.is_not(None)))
        .values(ip_hash=None, user_agent=None),
        execution_options={"synchronize_session": False}).rowcount
    deliveries = db.session.execute(
        sa.delete(Delivery).where(Delivery.created_at < cutoff, Delivery.state.in_(("sent", "failed", "cancelled"))),
        execution_options={"synchronize_session": False}).rowcount
    db.session.commit()
    return {"submissions": submissions, "reader_addresses": addresses, "deliveries": deliveries}
