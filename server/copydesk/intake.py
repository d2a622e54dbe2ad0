"""Filing a reader's send: check it against its site, group it with its report, make
replays harmless. Every outcome but a filed send is an exception: an ``IntakeError``, or
``limits.RateLimited`` for a site over its limit."""

import contextlib
import fcntl
import json
import logging
import os
import queue
import threading
from collections import Counter, OrderedDict
from concurrent.futures import Future
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError, OperationalError

from . import blocks, limits
from .db import db
from .models import KINDS, Report, Site, Submission, utcnow
from .notify.models import REPEAT_MILESTONES
from .security import keyed_hash
from .text import normalize_page_url, storable

logger = logging.getLogger(__name__)


class IntakeError(Exception):
    """A send the desk refuses: answered ``status``, with ``message`` on ``field`` and a
    machine-readable ``code``."""

    status, field, code = 422, "_request", "invalid"

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        if field:
            self.field = field


class UnknownSite(IntakeError):
    status, field, code = 404, "site", "unknown_site"

    def __init__(self):
        super().__init__("Unknown site.")


class OriginRefused(IntakeError):
    status, code = 403, "origin_refused"

    def __init__(self, origin):
        super().__init__(f"The origin {origin} may not send reports for this site.")


class PageNotOnSite(IntakeError):
    code = "page_not_on_site"

    def __init__(self, field):
        super().__init__("The page must be on one of the site's allowed origins.", field)


class SelectionTooLong(IntakeError):
    field, code = "exact", "selection_too_long"

    def __init__(self, max_selection):
        super().__init__(f"Select at most {max_selection} characters.")


class SiteRules(NamedTuple):
    """What intake needs of a site, read without loading an ORM object."""
    id: int
    allowed_origins: frozenset
    max_selection: int
    reader_followup: bool
    kinds_enabled: bool

    allows = Site.allows
    has_page = Site.has_page


class Filed(NamedTuple):
    """The answer to a filed send; a replay answers the first send's report and
    ``joined``, with the report's count now. ``stored``: this send added a submission."""
    id: int
    joined: bool
    count: int
    stored: bool


def hash_ip(ip: str | None) -> str | None:
    """A keyed hash, so the raw address is never stored and cannot be guessed back
    from a table of all IPv4 hashes without the secret."""
    return keyed_hash(ip) if ip else None


# Built once: intake runs these on every send, and building a statement costs about
# what running it does on SQLite.
_SITE, _REPORT, _SUBMISSION = Site.__table__, Report.__table__, Submission.__table__
_FIND_SITES = (sa.select(_SITE.c.key, _SITE.c.id, _SITE.c.allowed_origins_json, _SITE.c.max_selection,
                          _SITE.c.reader_followup, _SITE.c.kinds_enabled)
               .where(_SITE.c.key.in_(sa.bindparam("keys", expanding=True))))
_FIND_REPLAY = (sa.select(_SUBMISSION.c.report_id, _SUBMISSION.c.joined, _REPORT.c.submission_count)
                .join(_REPORT, _REPORT.c.id == _SUBMISSION.c.report_id)
                .where(_SUBMISSION.c.site_id == sa.bindparam("site_id"),
                       _SUBMISSION.c.idempotency_key == sa.bindparam("key")))
# Counted in SQL, so concurrent joins never lose one; no row: no open report to join. A
# join that brings the readers to a milestone marks the report due for announcement again,
# unless it is closed (spam, not an error…: its repeats are counted, never announced).
# Each kind's count grows by its "add_<kind>" (1 for the kind the reader chose, else 0).
_JOIN_REPORT = (sa.update(_REPORT).where(_REPORT.c.group_key == sa.bindparam("group"))
                .values(submission_count=_REPORT.c.submission_count + 1,
                        **{f"{kind}_count": _REPORT.c[f"{kind}_count"] + sa.bindparam(f"add_{kind}", type_=sa.Integer)
                           for kind in KINDS},
                        notify_due=sa.or_(_REPORT.c.notify_due, sa.and_(
                            _REPORT.c.status != "closed", (_REPORT.c.submission_count + 1).in_(
                                [sa.literal_column(str(count)) for count in REPEAT_MILESTONES]))),
                        last_submitted_at=sa.bindparam("now"), updated_at=sa.bindparam("now"))
                .returning(_REPORT.c.id, _REPORT.c.submission_count, _REPORT.c.status))
# A new report links to the last report of its error closed as fixed: the fix did not hold.
_LAST_FIXED = (sa.select(sa.func.max(_REPORT.c.id))
               .where(_REPORT.c.anchor_key == sa.bindparam("error"), _REPORT.c.resolution == "fixed")
               .scalar_subquery())
_INSERT_REPORT = sa.insert(_REPORT).values(previous_report_id=_LAST_FIXED).returning(_REPORT.c.id)
_INSERT_SUBMISSION = sa.insert(_SUBMISSION)
_LAST_REPORT_ID = sa.select(sa.func.coalesce(sa.func.max(_REPORT.c.id), 0))
_OPEN_REPORT = (sa.select(_REPORT.c.id, _REPORT.c.submission_count)
                .where(_REPORT.c.group_key == sa.bindparam("group")))
_SITE_EXISTS = sa.select(_SITE.c.id).where(_SITE.c.id == sa.bindparam("site_id"))


def _find_sites(connection, keys):
    """{key: SiteRules} of the sites with these public keys."""
    keys = sorted(key for key in keys if storable(key))
    rows = connection.execute(_FIND_SITES, {"keys": keys}).all() if keys else ()
    return {row.key: SiteRules(row.id, frozenset(json.loads(row.allowed_origins_json or "[]")), row.max_selection,
                               row.reader_followup, row.kinds_enabled)
            for row in rows}


def find_site(key):
    """The rules of the site with this public key; raises ``UnknownSite``."""
    site = _find_sites(db.session.connection(), [key]).get(key)
    if site is None:
        raise UnknownSite()
    return site


def check_send(site, origin, data):
    """The one check of a valid send against its site: raises an ``IntakeError``, or
    answers the data to store. A ``canonical_url`` off the site's origins is dropped,
    not refused: the reader's report stands, filed under the page it came from, and
    nothing off the site becomes a link. A reader's address is kept only if the site offers
    "tell me when it's fixed": otherwise it is dropped silently, as is the kind of error on a
    site that does not ask for it."""
    if origin is not None and not site.allows(origin):
        raise OriginRefused(origin)
    if not site.has_page(data["url"]):
        raise PageNotOnSite("url")
    if len(data["exact"]) > site.max_selection:
        raise SelectionTooLong(site.max_selection)
    if data["canonical_url"] and not site.has_page(data["canonical_url"]):
        logger.info("canonical_url off the origins of site %s: ignored", site.id)
        data = {**data, "canonical_url": None}
    if data["email"] is not None and not site.reader_followup:
        data = {**data, "email": None}
    if data["kind"] is not None and not site.kinds_enabled:
        data = {**data, "kind": None}
    return data


def find_replay(site, key):
    """The answer given to the accepted send with this idempotency key, or None."""
    return _replay(db.session.connection(), site.id, key)


def file_report(data, origin, ip_hash, user_agent):
    """File a valid send (a loaded ``ReportSchema``) from a page at ``origin``: raises an
    ``IntakeError`` or ``limits.RateLimited``, or answers ``Filed`` once the send is
    committed. A filled honeypot, or a send from a sender blocked on the site
    (``blocks``), is checked like any send and answered as a real send would be, but not
    stored."""
    return _writer().file(_Send(data, origin, ip_hash, (user_agent or "")[:400] or None,
                                limits.site_windows(data["site"])))


class _Send(NamedTuple):
    """A send as the request hands it to the writer."""
    data: dict
    origin: str | None
    ip_hash: str | None
    user_agent: str | None
    site_windows: tuple  # limits.site_windows


class _Filing(NamedTuple):
    """A send checked against its site, with its report identity."""
    site_id: int
    data: dict
    page_key: str
    anchor_key: str
    ip_hash: str | None
    user_agent: str | None


def _filing(send, site):
    data = check_send(site, send.origin, send.data)
    page_key = normalize_page_url(data["canonical_url"] or data["url"])
    anchor_key = Report.make_anchor_key(site.id, page_key, data["exact"], data["prefix"], data["suffix"])
    return _Filing(site.id, data, page_key, anchor_key, send.ip_hash, send.user_agent)


def _replay(connection, site_id, key):
    row = connection.execute(_FIND_REPLAY, {"site_id": site_id, "key": key}).first()
    return None if row is None else Filed(row.report_id, row.joined, row.submission_count, False)


def _store(connection, filing, now):
    """Run the statements that store one send in the open transaction: join its open
    report, or open one."""
    kind = filing.data["kind"]
    joined = connection.execute(_JOIN_REPORT, {"group": filing.anchor_key, "now": now,
                                               **{f"add_{each}": int(each == kind) for each in KINDS}}).first()
    data = filing.data
    reader_email = data["email"]
    if joined is not None:
        filed = Filed(joined.id, True, joined.submission_count, True)
        if joined.status == "closed":
            # Closed as anything but fixed (a fixed report gathers no repeats): nobody will
            # write to this reader, so the address is not kept.
            reader_email = None
    else:
        report_id = connection.execute(_INSERT_REPORT, _new_report(filing, now)).scalar_one()
        filed = Filed(report_id, False, 1, True)
    return filed, {"report_id": filed.id, "site_id": filing.site_id, "idempotency_key": data["idempotency_key"],
                   "joined": filed.joined, "comment": data["comment"], "suggestion": data["suggestion"],
                   "ip_hash": filing.ip_hash, "user_agent": filing.user_agent, "reader_email": reader_email,
                   "kind": data["kind"], "created_at": now}


def _new_report(filing, now):
    data = filing.data
    return dict(
        error=filing.anchor_key,  # finds the report closed as fixed (_LAST_FIXED)
        site_id=filing.site_id, group_key=filing.anchor_key, anchor_key=filing.anchor_key,
        page_url=data["url"], page_key=filing.page_key, canonical_url=data["canonical_url"],
        title=data["title"], lang=data["lang"],
        article_id=data["article_id"], article_section=data["article_section"],
        article_author=data["article_author"], article_published=data["article_published"],
        exact=data["exact"], prefix=data["prefix"], suffix=data["suffix"], position=data["position"],
        status="new", resolution=None, submission_count=1,
        **{f"{kind}_count": int(kind == data["kind"]) for kind in KINDS},
        created_at=now, updated_at=now, last_submitted_at=now)


def _file_batch(connection, sends, decoys):
    """Check each send against its site and its site's limits, and store those to keep:
    answers a ``Filed`` or an exception for each send, in order."""
    sites = _find_sites(connection, {send.data["site"] for send in sends})
    # One indexed lookup per batch, exact across processes (a cache would let a lifted or new
    # block lag behind in other workers); a table with no blocks answers at once.
    blocked = blocks.blocked_senders(connection, [(sites[send.data["site"]].id, send.ip_hash)
                                                  for send in sends if send.data["site"] in sites])
    outcomes, to_store, filings, baited = [None] * len(sends), [], [], []
    pending = Counter()  # reports of this batch each site's limits must leave room for
    for index, send in enumerate(sends):
        try:
            site = sites.get(send.data["site"])
            if site is None:
                raise UnknownSite()
            filing = _filing(send, site)
            limits.check_site(send.site_windows, pending[site.id])
        except (IntakeError, limits.RateLimited) as refused:
            outcomes[index] = refused
            continue
        if filing.data["website"]:  # only bots see the honeypot field
            logger.info("honeypot: dropped a report for site %s", site.id)
            baited.append((index, filing))
        elif (site.id, filing.ip_hash) in blocked:  # answered as the honeypot is, so it cannot tell
            logger.info("blocked sender: dropped a report for site %s", site.id)
            baited.append((index, filing))
        else:
            pending[site.id] += 1
            to_store.append(index)
            filings.append(filing)
    if filings:
        for index, outcome in zip(to_store, _store_batch(connection, filings)):
            outcomes[index] = outcome
            if isinstance(outcome, Filed) and outcome.stored:
                limits.count_stored(sends[index].site_windows)
    for index, filing in baited:
        outcomes[index] = decoys.answer(connection, filing)
    connection.rollback()  # ends the reads: the connection holds no lock while idle
    return outcomes


class _Decoys:
    """What the honeypot tells bots, so no answer gives it away: ids that grow as real
    ones do, a repeat of an open report joins it, a replay answers as before."""

    REMEMBERED = 1000

    def __init__(self):
        self._last_id = 0
        self._told = OrderedDict()  # (site id, idempotency key) or anchor key: Filed

    def answer(self, connection, filing):
        key = (filing.site_id, filing.data["idempotency_key"])
        filed = _replay(connection, filing.site_id, key[1]) or self._told.get(key)
        if filed is None:
            report = connection.execute(_OPEN_REPORT, {"group": filing.anchor_key}).first()
            earlier = self._told.get(filing.anchor_key)
            if report is not None:
                # Counts on from the last one told too, as a reader's repeats grow the stored one.
                told = earlier.count if earlier is not None and earlier.id == report.id else 0
                filed = Filed(report.id, True, max(report.submission_count, told) + 1, False)
            elif earlier is not None:
                filed = Filed(earlier.id, True, earlier.count + 1, False)
            else:
                self._last_id = max(self._last_id, connection.execute(_LAST_REPORT_ID).scalar_one()) + 1
                filed = Filed(self._last_id, False, 1, False)
        for told in (key, filing.anchor_key):
            self._told[told] = filed
            self._told.move_to_end(told)
        while len(self._told) > self.REMEMBERED:
            self._told.popitem(last=False)
        return filed


def _store_batch(connection, filings):
    """Store filings in one transaction and answer a ``Filed`` for each. Unique
    constraints decide every race: a replay, or another process's report for the same
    error, rolls the batch back, and then each send is stored alone, where it finds the
    winner (or fails alone)."""
    now = utcnow()
    # One order for every batch, so two batches joining the same reports wait, not deadlock.
    order = sorted(range(len(filings)), key=lambda index: filings[index].anchor_key)
    try:
        outcomes, submissions = [None] * len(filings), []
        for index in order:
            outcomes[index], submission = _store(connection, filings[index], now)
            submissions.append(submission)
        connection.execute(_INSERT_SUBMISSION, submissions)
        connection.commit()
        return outcomes
    except (IntegrityError, OperationalError):  # OperationalError: a deadlock on PostgreSQL
        connection.rollback()
    return [_store_alone(connection, filing) for filing in filings]


def _store_alone(connection, filing):
    """Store one send in its own transaction: a ``Filed``, or the error it failed with."""
    for _attempt in range(5):
        try:
            filed = _replay(connection, filing.site_id, filing.data["idempotency_key"])
            if filed is None:
                filed, submission = _store(connection, filing, utcnow())
                connection.execute(_INSERT_SUBMISSION, submission)
            connection.commit()
            return filed
        except IntegrityError:  # lost a race again: the next attempt finds the winner
            connection.rollback()
            # Or the site was removed meanwhile: no attempt will find it.
            if connection.execute(_SITE_EXISTS, {"site_id": filing.site_id}).first() is None:
                connection.rollback()
                return UnknownSite()
        except Exception as error:  # noqa: BLE001 - this send fails alone, as it would on its own
            connection.rollback()
            return error
    return RuntimeError("could not file the send after repeated conflicts")


class _Writer:
    """One writer per process and database, fed by a queue (Datasette's model). Committing
    is most of what storing a send costs, so the writer stores every send waiting in one
    transaction; a request is answered once the transaction holding its send commits.
    The writer thread ends when the queue has been empty for a second."""

    IDLE_SECONDS = 1.0
    MAX_BATCH = 64

    def __init__(self, engine):
        self.engine = engine
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread_pid = None  # a thread does not survive a fork: the pid tells
        self._decoys = _Decoys()

    def file(self, send):
        answer = Future()
        with self._lock:
            self._queue.put((send, answer))
            if self._thread_pid != os.getpid():
                self._thread_pid = os.getpid()
                threading.Thread(target=self._run, name="copydesk-intake-writer", daemon=True).start()
        return answer.result()

    def _run(self):
        connection = None
        while (batch := self._next_batch()) is not None:
            try:
                if connection is None:
                    connection = self.engine.connect()
                with self._sqlite_write_lock():
                    outcomes = _file_batch(connection, [send for send, _answer in batch], self._decoys)
            except Exception as error:  # noqa: BLE001 - every waiting request fails as it would alone
                outcomes = [error] * len(batch)
                if connection is not None:
                    connection.close()
                    connection = None
            if connection is not None and self._queue.empty():
                # Idle: back to the pool before anyone is answered, so no connection
                # outlives the app's engine. While sends keep coming it is kept.
                connection.close()
                connection = None
            for (_send, answer), outcome in zip(batch, outcomes):
                if isinstance(outcome, BaseException):
                    answer.set_exception(outcome)
                else:
                    answer.set_result(outcome)

    def _next_batch(self):
        """The sends waiting (up to MAX_BATCH), after waiting for one; None when idle."""
        try:
            batch = [self._queue.get(timeout=self.IDLE_SECONDS)]
        except queue.Empty:
            with self._lock:
                if self._queue.empty():
                    self._thread_pid = None
                    return None
            batch = []
        while len(batch) < self.MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _sqlite_write_lock(self):
        return write_lock(self.engine)


@contextlib.contextmanager
def write_lock(engine):
    """On SQLite, one batch writes at a time across the server's processes (the background
    worker's transactions take the lock too). SQLite makes a writer that finds the database
    locked sleep and poll; a blocking file lock wakes the next process as soon as the lock is
    free, and its batch grows meanwhile. Elsewhere it does nothing."""
    url = engine.url
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    descriptor = os.open(path + "-intake.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _writer():
    """This process's writer for the current app's database."""
    writer = current_app.extensions.get("copydesk_intake_writer")
    if writer is None:
        writer = current_app.extensions.setdefault("copydesk_intake_writer", _Writer(db.engine))
    return writer
