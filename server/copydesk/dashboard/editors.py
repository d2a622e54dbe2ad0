"""Editors (admins) and each editor's own account."""

import secrets

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from ..auth import LoginThrottled, change_password
from ..db import db
from ..models import ROLES, Editor, Refused
from ..schemas import PASSWORD_LENGTH, EditorSchema, PasswordChangeSchema
from . import ID, admin_required, bp, form_data


def _editors_page(errors=None, shown_password=None, status=200):
    """The editors page; ``shown_password`` is (editor, password), shown in this response only
    and never stored in the session cookie."""
    all_editors = db.session.scalars(sa.select(Editor).order_by(Editor.email)).all()
    return render_template("dashboard/editors.html", editors=all_editors, errors=errors, form=request.form,
                           roles=ROLES, shown_password=shown_password), status


def _new_password():
    return secrets.token_urlsafe(12)


@bp.route("/editors", methods=["GET", "POST"])
@admin_required
def editors():
    if request.method == "GET":
        return _editors_page()
    try:
        data = EditorSchema().load(form_data(request.form))
    except ValidationError as err:
        return _editors_page(errors=err.messages, status=400)
    password = _new_password()
    try:
        editor = Editor.create(data["email"], password, name=data["name"], role=data["role"])
    except Refused as refused:
        return _editors_page(errors={"email": [str(refused)]}, status=400)
    return _editors_page(shown_password=(editor, password), status=201)


def _editor_change(editor_id, change, done):
    """Apply an admin's change to an editor; a refused one (the last admin) is explained."""
    editor = db.get_or_404(Editor, editor_id)
    try:
        change(editor)
    except Refused as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        db.session.commit()
        flash(done(editor))
    return redirect(url_for("dashboard.editors"))


@bp.post(f"/editors/<{ID}:editor_id>/active")
@admin_required
def editor_active(editor_id):
    if editor_id == current_user.id:
        flash("You cannot deactivate yourself.", "error")
        return redirect(url_for("dashboard.editors"))
    return _editor_change(editor_id, lambda e: e.set_active(request.form.get("active") == "1"),
                          lambda e: f"{e.email} is now {'active' if e.active else 'deactivated'}.")


@bp.post(f"/editors/<{ID}:editor_id>/role")
@admin_required
def editor_role(editor_id):
    return _editor_change(editor_id, lambda e: e.set_role(request.form.get("role", "")),
                          lambda e: f"{e.email} is now an {e.role}.")


@bp.post(f"/editors/<{ID}:editor_id>/password")
@admin_required
def editor_password(editor_id):
    editor = db.get_or_404(Editor, editor_id)
    password = _new_password()
    editor.set_password(password)  # also ends the editor's sessions
    db.session.commit()
    return _editors_page(shown_password=(editor, password))


def account_page(errors=None, preference_errors=None, status=200, headers=None):
    """The Account page: the password form and how the editor hears each site."""
    from .notifications import DEFAULT_MODE, MODE_LABELS, preference_choices
    return (render_template("dashboard/account.html", errors=errors, password_length=PASSWORD_LENGTH,
                            preferences=preference_choices(current_user), mode_labels=MODE_LABELS,
                            default_mode=DEFAULT_MODE,
                            preference_errors=preference_errors), status, headers or {})


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    errors = None
    if request.method == "POST":
        try:
            data = PasswordChangeSchema().load(form_data(request.form))
            change_password(current_user._get_current_object(), data["current_password"], data["new_password"])
        except ValidationError as err:
            errors = err.messages
        except LoginThrottled as throttled:
            errors = {"current_password": [throttled.description]}
            return account_page(errors, status=429, headers={"Retry-After": str(throttled.seconds)})
        else:
            flash("Password changed. Your other sessions are logged out.")
            return redirect(url_for("dashboard.account"))
    return account_page(errors, status=400 if errors else 200)
