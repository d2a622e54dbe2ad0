"""Filing a reader's send: group it with its report, make replays harmless."""

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import threading
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from .db import db
from .models import Report, Site, Submission, utcnow
from .text import normalize_page_url, storable


def hash_ip(ip: str | None) -> str | None:
    """A keyed hash, so the raw address is never stored and cannot be guessed back
    from a table of all IPv4 hashes without the secret."""
    if not ip:
        return None
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:32]


def find_replay(site_id, key):
    """The answer given to the accepted send with this idempotency key, or None."""
    return _replay_on(db.session.connection(), site_id, key)


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


def _replay_on(connection, site_id, key):
    row = connection.execute(_REPLAY, {"site_id": site_id, "key": key}).first()
    if row is None:
        return None
    return {"id": row.report_id, "joined": row.joined, "count": row.submission_count, "replay": True}


_REPLAY = (sa.select(_SUBMISSION.c.report_id, _SUBMISSION.c.joined, _REPORT.c.submission_count)
           .join(_REPORT, _REPORT.c.id == _SUBMISSION.c.report_id)
           .where(_SUBMISSION.c.site_id == sa.bindparam("site_id"),
                  _SUBMISSION.c.idempotency_key == sa.bindparam("key")))


def _file_one(connection, entry):
    """Store one send in its own transaction and answer ``{"id", "joined", "count", "replay"}``.

    Unique constraints decide every race: two sends with one idempotency key
    leave one submission, two first sightings of one error leave one report.
    The loser of a race rolls back and tries again, and then finds the winner.
    """
    site_id, key, data = entry.site.id, entry.data["idempotency_key"], entry.data
    page_key, anchor_key = entry.keys()
    submission = entry.submission_values()
    for attempt in range(5):
        if attempt:
            # Replays are rare: the first attempt lets the unique key catch them.
            replay = _replay_on(connection, site_id, key)
            if replay:
                return replay
        now = utcnow()
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
                    connection.rollback()
                    continue
                joined = True
            connection.execute(_INSERT_SUBMISSION, {**submission, "report_id": report_id,
                                                    "joined": joined, "created_at": now})
            connection.commit()
        except IntegrityError:
            connection.rollback()
            continue
        return {"id": report_id, "joined": joined, "count": count, "replay": False}
    raise RuntimeError("could not file the submission after repeated conflicts")


# Group commit. Committing is most of what storing a send costs (a disk flush and a
# round trip on PostgreSQL, a write lock taken from other processes on SQLite), so the
# sends that arrive while one transaction runs are stored together in the next one.
# No thread of its own: the first request to arrive leads a batch, the others wait for
# its commit, and when it is done it hands the lead to the first that arrived meanwhile.
# Every send is answered only after the transaction holding it has committed.

class _Entry:
    """One validated send waiting for its batch, and then its outcome."""

    __slots__ = ("site_key", "origin", "data", "ip_hash", "user_agent", "site", "anchor",
                 "outcome", "error", "lead", "_waiting")

    def __init__(self, site_key, origin, data, ip_hash, user_agent):
        self.site_key, self.origin, self.data = site_key, origin, data
        self.ip_hash, self.user_agent = ip_hash, user_agent
        self.site = self.anchor = self.outcome = self.error = None
        self.lead = False
        self._waiting = threading.Lock()
        self._waiting.acquire()

    def keys(self):
        """(page key, anchor key): the report identity of this send."""
        if self.anchor is None:
            data = self.data
            page_key = normalize_page_url(data["canonical_url"] or data["url"])
            self.anchor = (page_key, Report.make_anchor_key(
                self.site.id, page_key, data["exact"], data["prefix"], data["suffix"]))
        return self.anchor

    def submission_values(self):
        data = self.data
        return {"site_id": self.site.id, "idempotency_key": data["idempotency_key"],
                "comment": data["comment"], "suggestion": data["suggestion"], "ip_hash": self.ip_hash,
                "user_agent": (self.user_agent or "")[:400] or None}

    def release(self):
        self._waiting.release()


class GroupCommit:
    """Per process and app: stores the sends of concurrent requests in one transaction.

    While sends keep coming, one connection passes from leader to leader, so a batch
    does not pay for a pool checkout and its liveness ping; when the queue is empty it
    goes back to the pool."""

    def __init__(self, max_batch=64):
        self._lock = threading.Lock()
        self._queue = []
        self._leading = False
        self._connection = None
        self._lock_file = None
        self.max_batch = max_batch

    def __del__(self):
        if self._lock_file is not None:
            os.close(self._lock_file)

    def file(self, entry):
        with self._lock:
            self._queue.append(entry)
            lead = entry.lead = not self._leading
            self._leading = True
        if not lead:
            entry._waiting.acquire()  # released with an outcome, or to lead the next batch
        if entry.lead:
            with self._lock:
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                self._run(batch)
            finally:
                idle = None
                with self._lock:
                    if self._queue:
                        self._queue[0].lead = True
                        self._queue[0].release()
                    else:
                        self._leading = False
                        idle, self._connection = self._connection, None
                if idle is not None:
                    idle.close()
                for other in batch:
                    if other is not entry:
                        other.release()
        if entry.error is not None:
            raise entry.error
        return entry.outcome

    def _run(self, batch):
        try:
            engine = db.engine
            with self._sqlite_write_lock(engine):
                if self._connection is None:
                    self._connection = engine.connect()
                try:
                    _file_batch(self._connection, batch)
                    if self._connection.in_transaction():
                        # A replay found one by one leaves its read open; the connection
                        # may serve the next batch and must hold no locks meanwhile.
                        self._connection.rollback()
                except BaseException:
                    connection, self._connection = self._connection, None
                    connection.close()
                    raise
        except BaseException as error:  # every waiting request fails as it would have alone
            for entry in batch:
                if entry.outcome is None:
                    entry.error = error

    @contextlib.contextmanager
    def _sqlite_write_lock(self, engine):
        """On SQLite, one batch writes at a time across the server's processes. SQLite makes
        a writer that finds the database locked sleep and poll, for a millisecond and then
        longer; a blocking file lock instead wakes the next process as soon as the lock is
        free, and lets its batch grow meanwhile."""
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        if not path or path == ":memory:" or path.startswith("file:"):
            yield
            return
        if self._lock_file is None:
            # Opened in the worker process: a lock on a file inherited over fork would be shared.
            self._lock_file = os.open(path + "-intake.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)


def group_commit():
    """This process's group commit for the current app."""
    group = current_app.extensions.get("copydesk_group_commit")
    if group is None:
        group = current_app.extensions.setdefault("copydesk_group_commit", GroupCommit())
    return group


def file_report(site_key, origin, data, ip_hash, user_agent):
    """Store a validated send for the site with public key ``site_key``, in a group commit.

    Answers ``("unknown_site", None)``, ``("origin", None)`` (not an allowed origin of the
    site), ``("too_long", max_selection)``, or ``("filed", {"id", "joined", "count",
    "replay"})`` once the send is committed."""
    if not storable(site_key):
        return ("unknown_site", None)
    return group_commit().file(_Entry(site_key, origin, data, ip_hash, user_agent))


class _Driver:
    """The batch's statements as the database driver's own SQL, run on its cursor: a batch
    is a handful of statements, and going through SQLAlchemy's execution machinery cost
    three times what SQLite takes to run them. Values pass through the same column type
    processing as SQLAlchemy's (dates are stored in one format either way)."""

    def __init__(self, dialect):
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.postgresql = dialect.name == "postgresql"
        self.processors = {table.name: [(column.name, column.type.bind_processor(dialect))
                                        for column in table.columns if column.name != "id"]
                           for table in (_REPORT, _SUBMISSION)}
        self.inserts = {table: self._insert(table) for table in self.processors}

    def marks(self, n):
        return ", ".join([self.mark] * n)

    def row(self, table, values):
        """``values`` (every column but id) as a tuple in column order, processed."""
        return tuple(process(values[name]) if process else values[name]
                     for name, process in self.processors[table])

    def _insert(self, table):
        return self.insert_rows(table, 1)

    def insert_rows(self, table, n):
        names = [name for name, _ in self.processors[table]]
        values = ", ".join([f"({self.marks(len(names))})"] * n)
        return f"INSERT INTO {table} ({', '.join(names)}) VALUES {values}"

    def find_sites(self, n):
        return f"SELECT key, id, allowed_origins_json, max_selection FROM site WHERE key IN ({self.marks(n)})"

    def find_fixed(self, n):
        return (f"SELECT anchor_key, max(id) FROM report WHERE anchor_key IN ({self.marks(n)}) "
                "AND resolution = 'fixed' GROUP BY anchor_key")

    def join_reports(self, joins, now):
        """One UPDATE that finds the open reports of these anchors and adds each one's
        joins (anchor -> n) to its count; it answers (anchor, report id, new count)."""
        anchors = sorted(joins)
        now = self.row("report", {**_NO_REPORT, "updated_at": now})[_UPDATED_AT]
        if all(joins[anchor] == 1 for anchor in anchors):
            added, added_params = "1", ()
        else:
            added = "CASE report.group_key " + " ".join([f"WHEN {self.mark} THEN {self.mark}"] * len(anchors)) + " END"
            added_params = tuple(value for anchor in anchors for value in (anchor, joins[anchor]))
        set_counts = (f"UPDATE report SET submission_count = report.submission_count + {added}, "
                      f"last_submitted_at = {self.mark}, updated_at = {self.mark} ")
        returning = " RETURNING report.group_key, report.id, report.submission_count"
        if self.postgresql:
            # Rows locked in id order first, so two batches joining the same reports cannot
            # deadlock; the key-share lock a new submission's foreign key takes does not wait.
            return (f"WITH locked AS (SELECT id FROM report WHERE group_key IN ({self.marks(len(anchors))}) "
                    "ORDER BY id FOR NO KEY UPDATE) " + set_counts
                    + "FROM locked WHERE report.id = locked.id" + returning,
                    (*anchors, *added_params, now, now))
        return (set_counts + f"WHERE group_key IN ({self.marks(len(anchors))})" + returning,
                (*added_params, now, now, *anchors))


_NO_REPORT = {column.name: None for column in _REPORT.columns}
_UPDATED_AT = [column.name for column in _REPORT.columns if column.name != "id"].index("updated_at")
_drivers = {}


def _file_batch(connection, batch):
    dialect = connection.dialect
    kind = (type(dialect), dialect.paramstyle)
    driver = _drivers.get(kind) or _drivers.setdefault(kind, _Driver(dialect))
    raw = connection.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        keys = sorted({entry.site_key for entry in batch})
        cursor.execute(driver.find_sites(len(keys)), keys)
        sites = {key: SiteInfo(site_id, json.loads(origins or "[]"), max_selection)
                 for key, site_id, origins, max_selection in cursor.fetchall()}
        accepted = []
        for entry in batch:
            site = sites.get(entry.site_key)
            if site is None:
                entry.outcome = ("unknown_site", None)
            elif entry.origin and entry.origin not in site.allowed_origins:
                entry.outcome = ("origin", None)
            elif len(entry.data["exact"]) > site.max_selection:
                entry.outcome = ("too_long", site.max_selection)
            else:
                entry.site = site
                accepted.append(entry)
        if not accepted:
            raw.rollback()
            return
        try:
            results = _store_together(cursor, driver, accepted)
            raw.commit()
        except (dialect.loaded_dbapi.IntegrityError, dialect.loaded_dbapi.OperationalError):
            # Deadlocks (PostgreSQL) are OperationalErrors: the serial path below waits its turn.
            raw.rollback()
        else:
            for entry, result in zip(accepted, results):
                entry.outcome = ("filed", result)
            return
    finally:
        cursor.close()
    # Another process won a race (a report or an idempotency key): file one by one, as
    # a lone send would be, which finds the winners.
    for entry in accepted:
        entry.outcome = ("filed", _file_one(connection, entry))


def _store_together(cursor, driver, entries):
    """Store ``entries`` in the open transaction with a few statements for all of them;
    the answers are what filing them one after another would have given."""
    now = utcnow()
    firsts, by_anchor, results = {}, {}, [None] * len(entries)
    for index, entry in enumerate(entries):
        ident = (entry.site.id, entry.data["idempotency_key"])
        if ident in firsts:
            continue  # a second send of one key in one batch: a replay of the first
        firsts[ident] = index
        by_anchor.setdefault(entry.keys()[1], []).append(index)

    report_ids, final_counts = {}, {}
    cursor.execute(*driver.join_reports({anchor: len(indexes) for anchor, indexes in by_anchor.items()}, now))
    for anchor, report_id, count in cursor.fetchall():
        report_ids[anchor], final_counts[anchor] = report_id, count
    created = sorted(anchor for anchor in by_anchor if anchor not in report_ids)
    if created:
        cursor.execute(driver.find_fixed(len(created)), created)
        fixed = dict(cursor.fetchall())
        for anchor in created:
            first = entries[by_anchor[anchor][0]]
            values = _new_report(first.site.id, first.data, first.keys()[0], anchor, now, fixed.get(anchor))
            values["submission_count"] = final_counts[anchor] = len(by_anchor[anchor])
            cursor.execute(driver.inserts["report"] + " RETURNING id", driver.row("report", values))
            report_ids[anchor] = cursor.fetchone()[0]

    rows = []
    for anchor, indexes in by_anchor.items():
        start = final_counts[anchor] - len(indexes)
        for n, index in enumerate(indexes):
            joined = anchor not in created or n > 0
            results[index] = {"id": report_ids[anchor], "joined": joined, "count": start + n + 1,
                              "replay": False}
            rows.append({**entries[index].submission_values(), "report_id": report_ids[anchor],
                         "joined": joined, "created_at": now})
    # One order for every batch, so concurrent inserts of one key wait instead of deadlocking.
    rows.sort(key=lambda row: (row["site_id"], row["idempotency_key"]))
    # One multi-row INSERT: psycopg's executemany would pipeline, and log a duplicate key.
    cursor.execute(driver.insert_rows("submission", len(rows)),
                   [value for row in rows for value in driver.row("submission", row)])
    for index, entry in enumerate(entries):
        if results[index] is None:
            first_index = firsts[(entry.site.id, entry.data["idempotency_key"])]
            first, anchor = results[first_index], entries[first_index].keys()[1]
            results[index] = {"id": first["id"], "joined": first["joined"],
                              "count": final_counts[anchor], "replay": True}
    return results


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
