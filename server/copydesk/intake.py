"""Filing a reader's send: group it with its report, make replays harmless."""

import hashlib
import hmac
import json
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from .db import db
from .models import Report, Site, Submission, utcnow
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


# Built once: the intake path runs these on every send, and building a statement costs
# more than running it on SQLite.
_REPORT, _SUBMISSION = Report.__table__, Submission.__table__
_FIND_GROUP = sa.select(_REPORT.c.id).where(_REPORT.c.group_key == sa.bindparam("anchor_key"))
_FIND_FIXED = (sa.select(_REPORT.c.id)
               .where(_REPORT.c.anchor_key == sa.bindparam("anchor_key"), _REPORT.c.resolution == "fixed")
               .order_by(_REPORT.c.id.desc()).limit(1))
_INSERT_REPORT = sa.insert(_REPORT).returning(_REPORT.c.id)
# Incremented in SQL so concurrent joins never lose a count.
_JOIN_REPORT = (sa.update(_REPORT).where(_REPORT.c.id == sa.bindparam("report_id"))
                .values(submission_count=_REPORT.c.submission_count + 1,
                        last_submitted_at=sa.bindparam("now"), updated_at=sa.bindparam("now"))
                .returning(_REPORT.c.submission_count))
_INSERT_SUBMISSION = sa.insert(_SUBMISSION)


class SiteInfo(NamedTuple):
    """What the intake path needs of a site, read without loading an ORM object."""
    id: int
    allowed_origins: list
    max_selection: int


_FIND_SITE = (sa.select(Site.__table__.c.id, Site.__table__.c.allowed_origins_json,
                        Site.__table__.c.max_selection)
              .where(Site.__table__.c.key == sa.bindparam("key")))


def find_site(key):
    """The site with this public key, or None."""
    row = db.session.connection().execute(_FIND_SITE, {"key": key}).first()
    if row is None:
        return None
    return SiteInfo(row.id, json.loads(row.allowed_origins_json or "[]"), row.max_selection)


def file_submission(site, data, ip=None, user_agent=None):
    """Store one send and answer ``{"id", "joined", "count", "replay"}``.

    Unique constraints decide every race: two sends with one idempotency key
    leave one submission, two first sightings of one error leave one report.
    The loser of a race rolls back and tries again, and then finds the winner.
    A first send costs three statements and a commit (four for a new report).
    """
    site_id, key = site.id, data["idempotency_key"]
    page_key = normalize_page_url(data["canonical_url"] or data["url"])
    anchor_key = Report.make_anchor_key(site_id, page_key, data["exact"], data["prefix"], data["suffix"])
    submission = {"site_id": site_id, "idempotency_key": key, "comment": data["comment"],
                  "suggestion": data["suggestion"], "ip_hash": hash_ip(ip),
                  "user_agent": (user_agent or "")[:400] or None}
    for attempt in range(5):
        if attempt:
            # Replays are rare: the first attempt lets the unique key catch them.
            replay = _replay(site, key)
            if replay:
                return replay
        now = utcnow()
        connection = db.session.connection()
        report_id = connection.execute(_FIND_GROUP, {"anchor_key": anchor_key}).scalar()
        try:
            if report_id is None:
                previous_id = connection.execute(_FIND_FIXED, {"anchor_key": anchor_key}).scalar()
                report_id = connection.execute(_INSERT_REPORT, _new_report(
                    site_id, data, page_key, anchor_key, now, previous_id)).scalar_one()
                joined, count = False, 1
            else:
                count = connection.execute(_JOIN_REPORT, {"report_id": report_id, "now": now}).scalar()
                if count is None:  # the report was deleted meanwhile
                    db.session.rollback()
                    continue
                joined = True
            connection.execute(_INSERT_SUBMISSION, {**submission, "report_id": report_id,
                                                    "joined": joined, "created_at": now})
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return {"id": report_id, "joined": joined, "count": count, "replay": False}
    raise RuntimeError("could not file the submission after repeated conflicts")


def _new_report(site_id, data, page_key, anchor_key, now, previous_id):
    """The column values of a report's first sighting. ``previous_id``: the report
    closed as fixed whose error this is again (the fix did not hold)."""
    return dict(
        site_id=site_id, group_key=anchor_key, anchor_key=anchor_key,
        page_url=data["url"], page_key=page_key, canonical_url=data["canonical_url"],
        title=data["title"], lang=data["lang"],
        article_id=data["article_id"], article_section=data["article_section"],
        article_author=data["article_author"], article_published=data["article_published"],
        exact=data["exact"], prefix=data["prefix"], suffix=data["suffix"], position=data["position"],
        status="new", resolution=None, submission_count=1, previous_report_id=previous_id,
        created_at=now, updated_at=now, last_submitted_at=now)
