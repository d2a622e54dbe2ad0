"""Security headers for every response, a strict CSP on every page but the widget's API
and the demo article, and the editor session cookie's Secure flag."""

from flask import request
from flask.sessions import SecureCookieSessionInterface

DASHBOARD_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
                 "frame-ancestors 'none'")


def init_app(app):
    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        # Strict everywhere but the widget's API and the demo article (a publisher's page
        # stand-in); error pages outside any blueprint, such as a 404, get it too.
        if request.blueprint not in ("api", "demo") and request.endpoint != "static":
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
