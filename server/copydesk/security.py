"""Security headers for every response, a strict CSP on every page but the widget's API
and the demo article, the editor session cookie's Secure flag, the secret key's rules and
files only their owner can read, and the keyed hash kept instead of addresses and emails."""

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from flask import current_app, request
from flask.sessions import SecureCookieSessionInterface


DASHBOARD_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
                 "frame-ancestors 'none'")


def for_readers():
    """Is this request one a reader's browser makes (the widget's files and API, the demo
    article, static files)? Those carry no editor session and no dashboard headers."""
    return request.blueprint in ("api", "assets", "demo") or request.endpoint == "static"


def init_app(app):
    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        # Strict everywhere but what readers' pages load (the demo article is a publisher's
        # page stand-in); error pages outside any blueprint, such as a 404, get it too.
        if not for_readers():
            headers.setdefault("Content-Security-Policy", DASHBOARD_CSP)
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    app.session_interface = SessionInterface()


class SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app):
        # Unless configured, the cookie is Secure whenever the editor reached us over HTTPS.
        setting = app.config["SESSION_COOKIE_SECURE"]
        return request.is_secure if setting is None else bool(setting)

    def save_session(self, app, session, response):
        # Readers' requests carry no editor session: no cookie set, and no `Vary: Cookie`
        # (Flask-Login peeks at the session after every request) to keep CDNs from caching.
        if for_readers():
            return
        super().save_session(app, session, response)


def keyed_hash(text):
    """A keyed hash (HMAC-SHA256 with the secret key, 32 hex digits): what the desk keeps
    instead of an address or an email, which cannot be guessed back without the secret."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def create_private_file(path, content=b""):
    """Create ``path`` readable by its owner only (0600) from its first byte, never wider
    for a moment. Returns False, changing nothing, if the file exists already. With
    content, the file appears whole or not at all, even when two processes race."""
    path = Path(path)
    if path.exists():
        return False
    if not content:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            return False
        return True
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.link(draft, path)  # atomic, and fails if another process got there first
    except FileExistsError:
        return False
    finally:
        draft.unlink()
    return True
