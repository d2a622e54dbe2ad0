"""Editors (admins) and each editor's own account."""

import secrets

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from ..audit import record
from ..auth import LoginThrottled, change_password
from ..db import db
from ..models import ROLES, Editor, Refused, Site
from ..notify.deliveries import cancel_for_sites
from ..schemas import PASSWORD_LENGTH, EditorSchema, PasswordChangeSchema, parse_whole_number
from . import ID, admin_required, all_sites, bp, form_data


def _editors_page(errors=None, shown_password=None, status=200):
    """The editors page; ``shown_password`` is (editor, password), shown in this response only
    and never stored in the session cookie."""
    all_editors = db.session.scalars(sa.select(Editor).order_by(Editor.email)).all()
    chosen = {parse_whole_number(v) for v in request.form.getlist("site")} - {None} if errors else set()
    return render_template("dashboard/editors.html", editors=all_editors, errors=errors, form=request.form,
                           roles=ROLES, shown_password=shown_password, sites=all_sites(),
                           chosen_sites=chosen), status


def sites_from_form(form):
    """The sites ticked in an editor form's "site" boxes; ValidationError for an id that
    names no site (removed meanwhile, or a forged form)."""
    values = form.getlist("site")
    ids = {parse_whole_number(v, low=1) for v in values}
    if None in ids:
        raise ValidationError({"site": [_("Choose sites from the list.")]})
    sites = db.session.scalars(sa.select(Site).where(Site.id.in_(ids)).order_by(Site.name)).all()
    if len(sites) != len(ids):
        raise ValidationError({"site": [_("A chosen site no longer exists. Reload the page and choose again.")]})
    return sites


def set_sites(editor, sites, by=None, **detail):
    """The one way an editor's sites change (dashboard and CLI): the new set, audited with
    what was added and removed; what was still owed to them about a site they no longer
    see is cancelled, and their reports there are unassigned. Answers whether anything
    changed."""
    before, after = set(editor.sites), set(sites)
    if before == after:
        return False
    editor.sites = sorted(after, key=lambda site: site.name)
    cancel_for_sites(editor, [site.id for site in before - after if not editor.sees_site(site.id)])
    _count_unassigned(detail, editor.give_up_unseen_reports(by))
    record("editor_sites_changed", editor, by=by, added=sorted(s.name for s in after - before),
           removed=sorted(s.name for s in before - after), **detail)
    return True


def _count_unassigned(detail, count):
    """Name in an audit entry's ``detail`` how many reports the change unassigned, if any."""
    if count:
        detail["reports_unassigned"] = count


def _new_password():
    return secrets.token_urlsafe(12)


@bp.route("/editors", methods=["GET", "POST"])
@admin_required
def editors():
    if request.method == "GET":
        return _editors_page()
    try:
        data = EditorSchema().load(form_data(request.form))
        sites = sites_from_form(request.form)
    except ValidationError as err:
        return _editors_page(errors=err.messages, status=400)
    password = _new_password()
    try:
        editor = Editor.create(data["email"], password, name=data["name"], role=data["role"])
    except Refused as refused:
        return _editors_page(errors={"email": [str(refused)]}, status=400)
    editor.sites = sites
    record("editor_added", editor, by=current_user, role=editor.role, sites=[site.name for site in sites])
    db.session.commit()
    return _editors_page(shown_password=(editor, password), status=201)


def change_role(editor, role, by=None, **detail):
    """The one way a role changes (dashboard and CLI), audited; Refused for the last admin."""
    before = editor.role
    _count_unassigned(detail, editor.set_role(role, by=by))
    if editor.role != before:
        record("editor_role_changed", editor, by=by, role={"from": before, "to": editor.role}, **detail)


def change_active(editor, flag, by=None, **detail):
    """The one way an editor is (de)activated (dashboard and CLI), audited; Refused for the last admin."""
    if editor.active != flag:
        _count_unassigned(detail, editor.set_active(flag, by=by))
        record("editor_activated" if flag else "editor_deactivated", editor, by=by, **detail)


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
        flash(_("You cannot deactivate yourself."), "error")
        return redirect(url_for("dashboard.editors"))
    flag = request.form.get("active") == "1"
    return _editor_change(editor_id, lambda e: change_active(e, flag, by=current_user),
                          lambda e: _("%(email)s is now active.", email=e.email) if e.active
                          else _("%(email)s is now deactivated.", email=e.email))


@bp.post(f"/editors/<{ID}:editor_id>/role")
@admin_required
def editor_role(editor_id):
    return _editor_change(editor_id, lambda e: change_role(e, request.form.get("role", ""), by=current_user),
                          lambda e: _("%(email)s is now an %(role)s.", email=e.email, role=e.role))


@bp.post(f"/editors/<{ID}:editor_id>/sites")
@admin_required
def editor_sites(editor_id):
    editor = db.get_or_404(Editor, editor_id)
    try:
        sites = sites_from_form(request.form)
    except ValidationError as err:
        abort(400, " ".join(err.messages["site"]))
    if set_sites(editor, sites, by=current_user):
        db.session.commit()
        flash(_("%(email)s now belongs to: %(sites)s.", email=editor.email,
                sites=", ".join(site.name for site in editor.sites) or _("no site")))
    else:
        flash(_("%(email)s belongs to these sites already.", email=editor.email))
    return redirect(url_for("dashboard.editors"))


@bp.post(f"/editors/<{ID}:editor_id>/password")
@admin_required
def editor_password(editor_id):
    editor = db.get_or_404(Editor, editor_id)
    password = _new_password()
    editor.set_password(password)  # also ends the editor's sessions
    record("editor_password_reset", editor, by=current_user)
    db.session.commit()
    return _editors_page(shown_password=(editor, password))


def account_page(errors=None, preference_errors=None, status=200, headers=None, **context):
    """The Account page: the password form and how the editor hears each site; ``context``:
    what other forms on it (language and time zone) hand over, e.g. their errors."""
    from .notifications import DEFAULT_MODE, MODE_LABELS, preference_choices
    return (render_template("dashboard/account.html", errors=errors, password_length=PASSWORD_LENGTH,
                            preferences=preference_choices(current_user), mode_labels=MODE_LABELS,
                            default_mode=DEFAULT_MODE,
                            preference_errors=preference_errors, **context), status, headers or {})


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
            flash(_("Password changed. Your other sessions are logged out."))
            return redirect(url_for("dashboard.account"))
    return account_page(errors, status=400 if errors else 200)
