"""Extension objects, created unbound and attached in ``create_app``."""

import ipaddress
import math
import time

from flask import current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect


def remembered(name, key, seconds, compute, now, most=256):
    """``compute()`` for ``key``, kept in this process for ``seconds`` from ``now`` (the
    caller's monotonic clock) in ``app.extensions[name]``: for figures that cost more than
    the page showing them and may lag that long behind (popping ``name`` forgets them at
    once). At most ``most`` keys: past that, the expired go, and then all of them."""
    store = current_app.extensions.setdefault(name, {})
    kept = store.get(key)
    if kept is None or kept[0] <= now:
        if key not in store and len(store) >= most:
            for expired in [k for k, (until, _value) in store.items() if until <= now]:
                del store[expired]
            if len(store) >= most:
                store.clear()
        kept = store[key] = (now + seconds, compute())
    return kept[1]


def address_key(address):
    """The part of a client address one person controls: the whole IPv4 address, an IPv6
    /64 (one home or phone gets a whole /64, so single IPv6 addresses cost nothing)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def client_ip():
    """The rate-limit key of the client's address (``address_key``): its keyed hash, so
    the limit store (memory or Redis) never holds a raw IP either."""
    from .intake import hash_ip
    # remote_addr is already the proxy-reported client when TRUSTED_PROXIES is set (ProxyFix).
    return "ip:" + hash_ip(address_key(request.remote_addr))


limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)

login_manager = LoginManager()
migrate = Migrate()
csrf = CSRFProtect()


def retry_after():
    """Seconds until the Flask-Limiter limit this request broke lets it through again."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    reset_time, _remaining = breached.window
    return seconds_until(reset_time)


def seconds_until(reset_time):
    """Retry-After for a window that resets at ``reset_time`` (epoch seconds): whole
    seconds, rounded up, at least one."""
    return max(1, math.ceil(reset_time - time.time()))


def wait_words(seconds):
    """How long to wait, rounded up, in plain English words ("1 minute", "4 minutes", "3
    hours"): the widget's API answers in English (the widget words its messages itself)."""
    from flask_babel import force_locale

    from .i18n import wait_words as words
    with force_locale("en"):
        return words(seconds)
