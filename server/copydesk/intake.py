"""Filing a reader's send: group it with its report, make replays harmless."""

import hashlib
import hmac

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from .db import db
from .models import Report, Submission, utcnow
from .text import normalize_page_url


def hash_ip(ip: str | None) -> str | None:
    """A keyed hash, so the raw address is never stored and cannot be guessed back
    from a table of all IPv4 hashes without the secret."""
    if not ip:
        return None
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:32]


def _replay(site, key):
    row = db.session.execute(
        sa.select(Submission.report_id, Submission.joined, Report.submission_count)
        .join(Report, Report.id == Submission.report_id)
        .where(Submission.site_id == site.id, Submission.idempotency_key == key)
    ).first()
    if row is None:
        return None
    return {"id": row.report_id, "joined": row.joined, "count": row.submission_count, "replay": True}


def file_submission(site, data, ip=None, user_agent=None):
    """Store one send and answer ``{"id", "joined", "count", "replay"}``.

    Unique constraints decide every race: two sends with one idempotency key
    leave one submission, two first sightings of one error leave one report.
    The loser of a race rolls back and tries again, and then finds the winner.
    """
    page_key = normalize_page_url(data["canonical_url"] or data["url"])
    anchor_key = Report.make_anchor_key(site.id, page_key, data["exact"], data["prefix"], data["suffix"])
    for _attempt in range(5):
        replay = _replay(site, data["idempotency_key"])
        if replay:
            return replay
        now = utcnow()
        report = db.session.scalar(sa.select(Report).where(Report.group_key == anchor_key))
        try:
            if report is None:
                report = _new_report(site, data, page_key, anchor_key, now)
                db.session.add(report)
                db.session.flush()
                joined = False
            else:
                # Increment in SQL so concurrent joins never lose a count.
                db.session.execute(
                    sa.update(Report).where(Report.id == report.id).values(
                        submission_count=Report.submission_count + 1,
                        last_submitted_at=now, updated_at=now))
                joined = True
            db.session.add(Submission(
                report_id=report.id, site_id=site.id,
                idempotency_key=data["idempotency_key"], joined=joined,
                comment=data["comment"], suggestion=data["suggestion"],
                ip_hash=hash_ip(ip), user_agent=(user_agent or "")[:400] or None,
                created_at=now))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        count = db.session.scalar(sa.select(Report.submission_count).where(Report.id == report.id))
        return {"id": report.id, "joined": joined, "count": count, "replay": False}
    raise RuntimeError("could not file the submission after repeated conflicts")


def _new_report(site, data, page_key, anchor_key, now):
    # A report closed as fixed whose error is seen again: the fix did not hold.
    previous_id = db.session.scalar(
        sa.select(Report.id).where(Report.anchor_key == anchor_key, Report.resolution == "fixed")
        .order_by(Report.id.desc()).limit(1))
    return Report(
        site_id=site.id, group_key=anchor_key, anchor_key=anchor_key,
        page_url=data["url"], page_key=page_key, canonical_url=data["canonical_url"],
        title=data["title"], lang=data["lang"],
        article_id=data["article_id"], article_section=data["article_section"],
        article_author=data["article_author"], article_published=data["article_published"],
        exact=data["exact"], prefix=data["prefix"], suffix=data["suffix"], position=data["position"],
        status="new", submission_count=1, previous_report_id=previous_id,
        created_at=now, updated_at=now, last_submitted_at=now)
