"""Extension objects, created unbound and attached in ``create_app``."""

import hashlib
import math
import time

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect


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


limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)
login_manager = LoginManager()
migrate = Migrate()
csrf = CSRFProtect()


def retry_after():
    """Seconds until the rate limit this request broke lets it through again."""
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
