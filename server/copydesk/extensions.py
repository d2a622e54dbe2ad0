"""Extension objects, created unbound and attached in ``create_app``."""

import dataclasses
import functools
import hashlib
import math
import os
import threading
import time
import weakref
from typing import NamedTuple

from flask import current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage as LimitsMemoryStorage


def client_ip():
    """The rate-limit key of the client's address: its keyed hash, so the limit store
    (memory or Redis) never holds a raw IP either."""
    from .intake import hash_ip
    # remote_addr is already the proxy-reported client when TRUSTED_PROXIES is set (ProxyFix).
    return "ip:" + (hash_ip(request.remote_addr) or "unknown")


def reporting_site():
    """The rate-limit key of the site a report is sent for, from the JSON body's ``site``.
    A fixed key when there is none to read: such a request stores nothing, so it never
    uses up that bucket (and Flask-Limiter logs an error for an empty key)."""
    try:
        payload = request.get_json(silent=True) if request.is_json else None
    except RecursionError:  # nested deeper than the parser's stack: the view answers 400
        return "site:none"
    site = payload.get("site") if isinstance(payload, dict) else None
    if not isinstance(site, str) or not site:
        return "site:none"
    # Hashed so a junk key of any length costs one fixed-size counter at most.
    return "site:" + hashlib.sha256(site.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class MemoryStorage(LimitsMemoryStorage):
    """The ``memory://`` rate-limit storage: limits' own, except that expired counters are
    swept by one thread per process, once a second. limits starts a new thread every 10 ms
    while the storage is in use, which took a tenth of a busy worker's time."""

    STORAGE_SCHEME = ["memory"]  # registered in limits' place for this scheme
    SWEEP_SECONDS = 1.0

    def _MemoryStorage__schedule_expiry(self):
        if getattr(self, "_sweeper_pid", None) != os.getpid():
            with _sweeper_lock:
                if getattr(self, "_sweeper_pid", None) != os.getpid():
                    self._sweeper_pid = os.getpid()  # forked workers start their own
                    threading.Thread(target=_sweep, args=(weakref.ref(self),), daemon=True,
                                     name="copydesk-ratelimit-sweeper").start()


_sweeper_lock = threading.Lock()


def _sweep(storage_ref):
    while (storage := storage_ref()) is not None:
        storage._MemoryStorage__expire_events()
        del storage  # the sweeper alone keeps no storage alive
        time.sleep(MemoryStorage.SWEEP_SECONDS)


class _Limiter(Limiter):
    def _check_request_limit(self, callable_name=None, in_middleware=True):
        # The report endpoint checks its own limits (check_report_limits); Flask-Limiter's
        # per-request resolution would only find that there is nothing to do, at a cost.
        if in_middleware and request.endpoint == "api.create_report":
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


limiter = _Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)

IP_LIMIT_MESSAGE = "Too many reports from your address."
SITE_LIMIT_MESSAGE = "This site is receiving too many reports right now."


@dataclasses.dataclass(frozen=True, eq=False)
class ReportLimit:
    """One window of the report limits; ``limit`` and ``error_message`` are what
    RateLimitExceeded reads of a limit."""
    limit: RateLimitItem
    scope: str
    per_site: bool
    error_message: str


class _Checked(NamedTuple):
    limit: RateLimitItem
    args: list


@functools.lru_cache(maxsize=16)
def _report_limits(per_ip, per_site):
    # Flask-Limiter's order: the per-site limits were declared first, and windows are
    # checked shortest granularity first (a stable sort).
    limits = [ReportLimit(item, "api.create_report:reports-site", True, SITE_LIMIT_MESSAGE)
              for item in parse_many(per_site)]
    limits += [ReportLimit(item, "api.create_report:reports-ip", False, IP_LIMIT_MESSAGE)
               for item in parse_many(per_ip)]
    return tuple(sorted(limits, key=lambda lim: lim.limit.GRANULARITY.seconds))


def check_report_limits():
    """The report endpoint's limits, checked as two ``@limiter.limit`` decorators did
    (every send counts per address; per site only stored reports count, deducted after
    the response, see ``report_limit_headers``) and answered with the same headers, but
    without Flask-Limiter's per-request machinery, which cost more than all the rest of
    handling an accepted report but storing it. Raises RateLimitExceeded."""
    if not limiter.enabled:
        return
    config = current_app.config
    limits = _report_limits(config["RATELIMIT_REPORTS_PER_IP"], config["RATELIMIT_REPORTS_PER_SITE"])
    prefix = [config["RATELIMIT_KEY_PREFIX"]] if config.get("RATELIMIT_KEY_PREFIX") else []
    strategy = limiter.limiter
    keys, deductions, header = {}, [], None
    for lim in limits:
        if lim.per_site not in keys:
            keys[lim.per_site] = reporting_site() if lim.per_site else client_ip()
        if not keys[lim.per_site]:
            continue  # no site named: the view answers the error
        args = [*prefix, keys[lim.per_site], lim.scope]
        if lim.per_site:
            deductions.append(_Checked(lim.limit, args))
            allowed = strategy.test(lim.limit, *args)
        else:
            allowed = strategy.hit(lim.limit, *args)
        # The headers describe the first window checked, or the one that was exceeded.
        if header is None or not allowed:
            header = _Checked(lim.limit, args)
        if not allowed:
            g.report_limits = (header, deductions)
            limiter.logger.info("ratelimit %s (%s) exceeded at endpoint: %s",
                                lim.limit, keys[lim.per_site], lim.scope)
            raise RateLimitExceeded(lim)
    g.report_limits = (header, deductions)


def report_limit_headers(response):
    """After a report request: count a stored report against its site, then add the
    X-RateLimit-* and Retry-After headers as Flask-Limiter writes them."""
    header, deductions = g.pop("report_limits", (None, ()))
    strategy = limiter.limiter
    if g.get("report_stored", False):
        for checked in deductions:
            strategy.hit(checked.limit, *checked.args)
    if header is None:
        return response
    reset, remaining = strategy.get_window_stats(header.limit, *header.args)
    reset_at = int(reset + 1)
    response.headers.add("X-RateLimit-Limit", str(header.limit.amount))
    response.headers.add("X-RateLimit-Remaining", str(remaining))
    response.headers.add("X-RateLimit-Reset", str(reset_at))
    if (existing := response.headers.get("Retry-After")) is not None:
        reset_at = max(int(time.time() + int(existing)), reset_at)
    response.headers.set("Retry-After", str(int(reset_at - time.time())))
    return response


login_manager = LoginManager()
migrate = Migrate()
csrf = CSRFProtect()


def retry_after():
    """Seconds until the rate limit this request broke lets it through again."""
    if "report_limits" in g:
        breached, _deductions = g.report_limits
        reset_time, _remaining = limiter.limiter.get_window_stats(breached.limit, *breached.args)
    else:
        breached = limiter.current_limit
        if breached is None:
            return 60
        reset_time, _remaining = breached.window
    return max(1, math.ceil(reset_time - time.time()))


def wait_words(seconds):
    """How long to wait, rounded up, in plain words: "1 minute", "4 minutes", "3 hours"."""
    minutes = -(-seconds // 60)
    if minutes <= 90:
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    hours = -(-minutes // 60)
    return f"{hours} hours"
