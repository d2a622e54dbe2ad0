"""Each editor's language and time zone (Account): stored on the editor; unset, each
follows the browser (Accept-Language; the zone static/i18n.js reports)."""

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext
from flask_login import current_user, login_required
from marshmallow import EXCLUDE, ValidationError, fields, validate, validates

from ..db import db
from ..i18n import DASHBOARD_LANGUAGES, browser_time_zone, is_time_zone, time_zones
from ..schemas import DeskSchema
from . import bp, form_data


class LanguageTimeSchema(DeskSchema):
    """The Account's language and time zone; left empty (None): from the browser."""
    class Meta:
        unknown = EXCLUDE  # the CSRF token rides along

    language = fields.String(load_default=None, validate=validate.OneOf(
        DASHBOARD_LANGUAGES, error=lazy_gettext("Choose one of the languages in the list.")))
    time_zone = fields.String(load_default=None)

    @validates("time_zone")
    def _known_zone(self, value, data_key):
        if value is not None and not is_time_zone(value):
            raise ValidationError(_("“%(zone)s” is not a time zone we know. Choose one from the list, "
                                    "such as Europe/Moscow, or leave it empty to use your browser's.",
                                    zone=value if len(value) <= 64 else value[:64] + "…"))


@bp.app_context_processor
def _language_time_form():
    """What the Account page's language and time zone form shows (errors: after a refused
    save, from ``account_preferences`` below)."""
    if not current_user.is_authenticated:
        return {}
    return {"dashboard_languages": DASHBOARD_LANGUAGES, "time_zones": time_zones(),
            "browser_time_zone": browser_time_zone(),
            "language_time_errors": g.get("language_time_errors"),
            "language_time_form": g.get("language_time_form")}


@bp.post("/account/preferences")
@login_required
def account_preferences():
    from .editors import account_page
    form = form_data(request.form)
    try:
        data = LanguageTimeSchema().load(form)
    except ValidationError as err:
        g.language_time_errors = err.messages
        g.language_time_form = request.form
        return account_page(status=400)
    editor = current_user._get_current_object()
    editor.language, editor.time_zone = data["language"], data["time_zone"]
    db.session.commit()
    flash(_("Language and time zone saved."))
    return redirect(url_for("dashboard.account") + "#language-time")
