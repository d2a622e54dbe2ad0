"""Editor login and logout."""

import functools
import hashlib
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db
from .extensions import limiter, login_manager, retry_after, wait_words
from .models import Editor

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see the reports."
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_editor(session_id):
    """Sessions name the editor and their current session token: a password
    change rotates the token and so ends every other session."""
    editor_id, _, token = session_id.partition(":")
    if not editor_id.isdigit():
        return None
    editor = db.session.get(Editor, int(editor_id))
    if editor is None or not token or editor.session_token != token:
        return None
    return editor


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


def _login_email_key():
    # Hashed: a fixed-size counter key whatever is typed into the field.
    email = (request.form.get("email") or "").strip().lower()
    return "login-account:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@functools.cache
def _unknown_editor_hash():
    return generate_password_hash("no editor has this password", method="scrypt")


def _login_limits():
    return current_app.config["RATELIMIT_LOGIN"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limits, methods=["POST"], scope="login-ip",
               error_message="Too many login attempts from your address.")
@limiter.limit(_login_limits, methods=["POST"], scope="login-account", key_func=_login_email_key,
               error_message="Too many login attempts for this account.")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.reports"))
    error = None
    email = ""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        editor = db.session.scalar(sa.select(Editor).where(Editor.email == email))
        if editor is None:
            # As slow as a wrong password, so timing does not tell which emails are editors.
            check_password_hash(_unknown_editor_hash(), password)
        if editor is None or not editor.check_password(password) or not editor.active:
            error = "Wrong email or password."
        else:
            login_user(editor)
            return redirect(safe_next(request.args.get("next")) or url_for("dashboard.reports"))
    return render_template("auth/login.html", error=error, email=email), (401 if error else 200)


@bp.errorhandler(RateLimitExceeded)
def login_throttled(error):
    """A throttled login gets the login page again, saying how long to wait."""
    seconds = retry_after()
    message = f"{error.description} Please wait {wait_words(seconds)} and try again."
    response = current_app.make_response((render_template(
        "auth/login.html", error=message, email=(request.form.get("email") or "").strip()), 429))
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))
