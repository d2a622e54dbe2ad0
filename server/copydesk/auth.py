"""Editor login and logout, sessions kept in the database, and the one rule that throttles
password guessing (login and Account alike)."""

import functools
import hmac
import math
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required, login_user, logout_user
from limits import parse_many
from marshmallow import ValidationError
from werkzeug.exceptions import TooManyRequests
from werkzeug.security import check_password_hash, generate_password_hash

from .audit import record
from .db import db
from .extensions import address_key, login_manager
from .i18n import wait_words
from .intake import hash_ip
from .models import Editor, EditorSession, LoginAttempt, utcnow
from .security import for_readers, keyed_hash

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Please log in to see the reports.")
login_manager.localize_callback = str  # the flash is stored in the session: plain text
login_manager.session_protection = "basic"

SESSION_KEY = "editor_session"  # the cookie's key for the session row's token
# Activity is written at most this often: idle timeouts are minutes, not seconds.
TOUCH_EVERY = timedelta(minutes=1)


# --- Sessions ----------------------------------------------------------------------------

@login_manager.user_loader
def load_editor(user_id):
    """The editor of this browser's session, or None. The session must still have its row
    (logout deletes it), be neither idle nor too old, and carry the editor's current
    session token (a password change or deactivation rotates it and so ends every
    session)."""
    editor_id, _, token = user_id.partition(":")
    row = _session_row()
    if row is None or not editor_id.isdigit() or row.editor_id != int(editor_id):
        return None
    editor = db.session.get(Editor, row.editor_id)
    if editor is None or not token or not hmac.compare_digest(editor.session_token, token):
        return None
    now = utcnow()
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return editor


def _expired():
    """The sessions that have ended: idle too long, or past their lifetime however active."""
    now, config = utcnow(), current_app.config
    return sa.or_(EditorSession.last_seen_at < now - timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
                  EditorSession.created_at < now - timedelta(hours=config["SESSION_LIFETIME_HOURS"]))


def _session_row():
    """This browser's session row, if the session has not ended."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    return db.session.scalar(sa.select(EditorSession).where(
        EditorSession.token_hash == EditorSession.hash_token(token), sa.not_(_expired())))


@bp.before_app_request
def load_editor_first():
    # Readers' requests never read the session: no database lookup, and no `Vary: Cookie`
    # that would keep a CDN from caching the widget.
    if for_readers():
        return
    # Loading may commit (noting activity): do it before a view has changes of its own.
    if SESSION_KEY in session:
        current_user.get_id()


def start_session(editor):
    """Log ``editor`` in with a new session: a fresh cookie (so a new CSRF token, nothing
    carried over from before) naming a new session row."""
    db.session.execute(sa.delete(EditorSession).where(_expired()))  # nothing else deletes them
    token = secrets.token_urlsafe(32)
    db.session.add(EditorSession(token_hash=EditorSession.hash_token(token), editor_id=editor.id))
    db.session.commit()
    session.clear()
    session[SESSION_KEY] = token
    login_user(editor)


def end_session():
    """Log out: the session row goes, so every copy of this cookie is logged out too."""
    row = _session_row()
    if row is not None:
        db.session.delete(row)
        db.session.commit()
    logout_user()
    session.clear()


# --- Throttling password guesses -----------------------------------------------------------

class LoginThrottled(TooManyRequests):
    """Too many password attempts; ``description`` says from where and how long to wait."""

    def __init__(self, reason, seconds):
        super().__init__(gettext("%(reason)s Please wait %(wait)s and try again.", reason=reason,
                                 wait=wait_words(seconds)), retry_after=seconds)
        self.seconds = seconds


def account_key(email):
    """A keyed hash of the email typed: fixed size whatever is typed, and no email in the table."""
    return keyed_hash("login-account:" + email)


@functools.cache
def _unknown_editor_hash():
    return generate_password_hash("no editor has this password", method="scrypt")


def checked_password(email, password):
    """The one rule for every password check, at login and on Account. Returns the active
    editor with this email and password, or None; raises LoginThrottled instead when

    - this client address (an IPv6 /64) made too many attempts, right or wrong, or
    - the account had too many failed attempts *and* this address is one of those that
      failed for it. An address that has not failed for the account gets through, so a
      guesser who knows an editor's email cannot lock the owner out; the guesser's own
      addresses stay locked, and each address still has its own limit.

    Every attempt is a row written before the counting, so concurrent attempts in any
    number of processes see each other: the limits are never exceeded (at worst a
    concurrent attempt is refused one early)."""
    email = Editor.normalize_email(email)
    address, account = hash_ip(address_key(request.remote_addr)), account_key(email)
    windows = parse_many(current_app.config["RATELIMIT_LOGIN"])
    now = utcnow()
    attempt = LoginAttempt(address_hash=address, account_hash=account, created_at=now)
    db.session.add(attempt)
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.created_at < now - timedelta(
        seconds=max(window.get_expiry() for window in windows))))
    db.session.commit()

    def refuse_if_over(attempts, window, reason):
        # One read: the newest attempts up to the limit, so the count and the wait agree.
        latest = db.session.scalars(sa.select(LoginAttempt.created_at).where(attempts).order_by(
            LoginAttempt.created_at.desc()).limit(window.amount)).all()
        if len(latest) < window.amount:
            return
        # Allowed again once the oldest attempt that keeps it over the limit leaves the window.
        oldest = latest[-1]
        attempt.outcome = "refused"
        db.session.commit()
        wait = (oldest + timedelta(seconds=window.get_expiry()) - utcnow()).total_seconds()
        raise LoginThrottled(reason, max(1, math.ceil(wait)))

    for window in windows:
        earlier = sa.and_(LoginAttempt.id != attempt.id,
                          LoginAttempt.created_at >= now - timedelta(seconds=window.get_expiry()))
        refuse_if_over(sa.and_(earlier, LoginAttempt.address_hash == address, LoginAttempt.outcome != "refused"),
                       window, gettext("Too many login attempts from your address."))
        failed_here = sa.select(LoginAttempt.id).where(
            earlier, LoginAttempt.account_hash == account, LoginAttempt.address_hash == address,
            LoginAttempt.outcome == "failed").limit(1)
        if db.session.scalar(failed_here) is not None:
            refuse_if_over(sa.and_(earlier, LoginAttempt.account_hash == account,
                                   LoginAttempt.outcome.in_(("pending", "failed"))),
                           window, gettext("Too many login attempts for this account."))

    editor = Editor.find(email)
    if editor is None:
        # As slow as a wrong password, so timing does not tell which emails are editors.
        check_password_hash(_unknown_editor_hash(), password)
    elif not editor.check_password(password) or not editor.active:
        editor = None
    attempt.outcome = "failed" if editor is None else "succeeded"
    db.session.commit()
    return editor


def change_password(editor, current_password, new_password):
    """The Account form: check the current password through the login throttle, then set
    the new one. This session goes on; every other session of the editor ends. Raises
    ValidationError (wrong current password) or LoginThrottled. ``editor`` is an Editor,
    not the ``current_user`` proxy (login_user would make the proxy point at itself)."""
    if checked_password(editor.email, current_password) is None:
        raise ValidationError({"current_password": [gettext("That is not your current password.")]})
    editor.set_password(new_password)
    record("password_changed", editor, by=editor)
    mine = _session_row()
    others = EditorSession.editor_id == editor.id
    if mine is not None:
        others = sa.and_(others, EditorSession.token_hash != mine.token_hash)
    db.session.execute(sa.delete(EditorSession).where(others))
    db.session.commit()
    if mine is None:  # logged out meanwhile (another tab): the password changes, the session stays ended
        end_session()
    else:
        login_user(editor)  # the session now names the new session token


# --- Views -------------------------------------------------------------------------------

def safe_next(target):
    """Only same-site paths: never an open redirect through ?next=."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    # Browsers drop tabs and newlines inside URLs, so "/\t/evil.com" would become "//evil.com".
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.reports"))
    error, status, headers = None, 200, {}
    email = Editor.normalize_email(request.form.get("email") or "")
    if request.method == "POST":
        try:
            editor = checked_password(email, request.form.get("password") or "")
        except LoginThrottled as throttled:
            error, status, headers = throttled.description, 429, {"Retry-After": str(throttled.seconds)}
        else:
            if editor is not None:
                record("login", editor, by=editor)
                start_session(editor)  # commits the entry with the session
                return redirect(safe_next(request.args.get("next")) or url_for("dashboard.reports"))
            _record_failed_login(email)
            error, status = gettext("Wrong email or password."), 401
    return render_template("auth/login.html", error=error, email=email), status, headers


def _record_failed_login(email):
    """A failed login, naming the editor whose account it was for. What was typed for no
    editor is not kept: it may be a mistyped password or someone's private address."""
    editor = Editor.find(email)
    record("login_failed", editor if editor is not None else "", by=None,
           address=hash_ip(address_key(request.remote_addr))[:12], known_editor=editor is not None)
    db.session.commit()


@bp.post("/logout")
@login_required
def logout():
    record("logout", current_user, by=current_user)
    end_session()
    db.session.commit()  # the entry, also when the session row was gone already
    flash(gettext("You are logged out."))
    return redirect(url_for("auth.login"))
