"""Spam blocks: a sender (the keyed hash of their address, as submissions keep it) blocked on
one site for a while. Intake answers a blocked sender's sends as it answers accepted ones,
and stores nothing (``intake._file_batch``); admins see and lift blocks on the Blocks page."""

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from .audit import record
from .db import db
from .models import Refused, SenderBlock, Submission, utcnow

# The lengths a spam close offers, in hours (a day to a year); the last is the longest block.
BLOCK_HOURS = (24, 24 * 7, 24 * 30, 24 * 365)

_BLOCK = SenderBlock.__table__
# Built once: intake runs it on every batch. One lookup on ix_sender_block_site_ip_hash_until
# for the batch's sites and addresses; pairs crossed between them are sorted out in Python.
_BLOCKED = (sa.select(_BLOCK.c.site_id, _BLOCK.c.ip_hash)
            .where(_BLOCK.c.site_id.in_(sa.bindparam("site_ids", expanding=True)),
                   _BLOCK.c.ip_hash.in_(sa.bindparam("hashes", expanding=True)),
                   _BLOCK.c.until > sa.bindparam("now")))


def blocked_senders(connection, senders, now=None):
    """The (site id, ip hash) pairs among ``senders`` blocked now, in one query."""
    senders = {(site_id, ip_hash) for site_id, ip_hash in senders if ip_hash}
    if not senders:
        return set()
    rows = connection.execute(_BLOCKED, {"site_ids": sorted({site for site, _hash in senders}),
                                         "hashes": sorted({ip_hash for _site, ip_hash in senders}),
                                         "now": now or utcnow()})
    return {(row.site_id, row.ip_hash) for row in rows} & senders


def block_length(hours):
    """How long a block of ``hours`` lasts, in words: "1 year", "7 days", "5 hours"."""
    if hours % (24 * 365) == 0:
        return ngettext("%(num)d year", "%(num)d years", hours // (24 * 365))
    if hours % 24 == 0:
        return ngettext("%(num)d day", "%(num)d days", hours // 24)
    return ngettext("%(num)d hour", "%(num)d hours", hours)


def block_sender(report, hours, by):
    """Block every sender of ``report`` (each address its submissions came from) on its site
    for ``hours``; a sender blocked already stays blocked until the later of the two ends.
    Answers how many senders are blocked; a submission without an address is skipped. The
    caller commits."""
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 < hours <= BLOCK_HOURS[-1]:
        raise Refused(_("Choose how long to block the sender: from an hour to a year."))
    hashes = db.session.scalars(
        sa.select(Submission.ip_hash).distinct()
        .where(Submission.report_id == report.id, Submission.ip_hash.is_not(None))).all()
    now = utcnow()
    until = now + timedelta(hours=hours)
    active = {block.ip_hash: block for block in db.session.scalars(
        sa.select(SenderBlock).where(SenderBlock.site_id == report.site_id, SenderBlock.ip_hash.in_(hashes),
                                     SenderBlock.until > now))} if hashes else {}
    for ip_hash in hashes:
        block = active.get(ip_hash)
        if block is None:
            db.session.add(SenderBlock(site_id=report.site_id, ip_hash=ip_hash, until=until, report_id=report.id,
                                       created_by_id=by.id if by is not None else None, created_at=now))
        elif block.until < until:
            block.until = until
    record("sender_blocked", f"report {report.id} ({report.site.name})", by, report_id=report.id,
           site_id=report.site_id, senders=len(hashes), hours=hours, until=until)
    return len(hashes)


def active_blocks(query=None):
    """The blocks in force now, latest ending first; ``query``: a select of SenderBlock to narrow
    (the dashboard's scoped one)."""
    query = sa.select(SenderBlock) if query is None else query
    return db.session.scalars(query.where(SenderBlock.until > utcnow())
                              .order_by(SenderBlock.until.desc(), SenderBlock.id.desc())).all()


def lift(block, by):
    """End a block now; the audit trail keeps that it was. The caller commits."""
    record("sender_unblocked", f"site {block.site_id} ({block.site.name})", by, block_id=block.id,
           site_id=block.site_id, report_id=block.report_id, until=block.until)
    db.session.delete(block)
