"""Rate limits on report sends, through the limits package's public strategy API
(``hit``, ``test``, ``get_window_stats``) on Flask-Limiter's storage, so one
``RATELIMIT_STORAGE_URL`` (memory or Redis) holds every counter.

Every send counts against its address before any database work. Against its site only
stored reports count, so junk sent with a site's key cannot block the site's readers;
the intake writer tests and counts them, one batch at a time, so concurrent sends never
store more than the limit. When the store is down, sends are let through (logged): an
outage of Redis must never lose a reader's report.
"""

import functools
import hashlib
import logging
import time
from typing import NamedTuple

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.errors import StorageError

from .extensions import client_ip, limiter, seconds_until, wait_words

logger = logging.getLogger(__name__)


class Window(NamedTuple):
    """One limit applied to one address or site, with the words a send over it is told."""
    item: RateLimitItem
    args: tuple  # the identifiers limits' strategies take after the item
    message: str
    code: str

    def reset_and_remaining(self):
        """(reset time, remaining), or None while the limit store is down."""
        return _ask_store(limiter.limiter.get_window_stats, self.item, *self.args)


class RateLimited(Exception):
    """A send over one of its limits: answered 429, with ``Retry-After``."""

    status, field = 429, "_request"

    def __init__(self, window):
        self.window, self.code = window, window.code
        stats = window.reset_and_remaining()
        self.retry_after = seconds_until(stats[0] if stats else time.time() + window.item.get_expiry())
        self.message = f"{window.message} Please try again in {wait_words(self.retry_after)}."
        super().__init__(self.message)


def _ask_store(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except StorageError as error:
        logger.error("rate-limit store unavailable, send let through: %s", error.storage_error)
        return None


@functools.lru_cache(maxsize=16)
def _limits(setting):
    """The windows of a limit setting ("10 per 5 minutes;30 per hour"), shortest first."""
    return tuple(sorted(parse_many(setting), key=lambda item: item.get_expiry()))


def _enabled():
    return current_app.config.get("RATELIMIT_ENABLED", True)


def count_send():
    """Count a send against its address; raises ``RateLimited``. Answers the window the
    X-RateLimit-* headers describe: the shortest, the same for every kind of send."""
    if not _enabled():
        return None
    key, shown = client_ip(), None
    for item in _limits(current_app.config["RATELIMIT_REPORTS_PER_IP"]):
        window = Window(item, (key, "reports-ip"), "Too many reports from your address.", "rate_limited_address")
        if _ask_store(limiter.limiter.hit, window.item, *window.args) is False:
            raise RateLimited(window)
        shown = shown or window
    return shown


def site_windows(site_key):
    """The windows a report stored for the site with this key counts in (none when rate
    limits are off). The intake writer tests them (``check_site``) and counts them
    (``count_stored``)."""
    if not _enabled() or not isinstance(site_key, str) or not site_key:
        return ()
    # Hashed, so a junk key of any length costs one fixed-size counter at most.
    key = "site:" + hashlib.sha256(site_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return tuple(Window(item, (key, "reports-site"), "This site is receiving too many reports right now.",
                        "rate_limited_site")
                 for item in _limits(current_app.config["RATELIMIT_REPORTS_PER_SITE"]))


def check_site(windows, pending):
    """Raises ``RateLimited`` unless the site can take one more report on top of the
    ``pending`` ones of the batch being stored."""
    for window in windows:
        if _ask_store(limiter.limiter.test, window.item, *window.args, cost=pending + 1) is False:
            raise RateLimited(window)


def count_stored(windows):
    """Count a stored report against its site (windows from ``site_windows``)."""
    for window in windows:
        _ask_store(limiter.limiter.hit, window.item, *window.args)


def add_headers(response, window, retry_after=None):
    """The X-RateLimit-* headers (and Retry-After) as Flask-Limiter writes them."""
    stats = window and window.reset_and_remaining()
    if not stats:
        return response
    reset, remaining = stats
    response.headers["X-RateLimit-Limit"] = str(window.item.amount)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(int(reset + 1))
    response.headers["Retry-After"] = str(retry_after or seconds_until(reset))
    return response
