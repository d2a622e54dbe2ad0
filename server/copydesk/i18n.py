"""The dashboard's, the emails' and the CLI's languages (Flask-Babel): which language and
time zone each request uses. Catalogues live in ``translations/``."""

from flask import request
from flask_babel import Babel

from . import PACKAGE_DIR

# The languages the dashboard speaks; the first is the fallback.
DASHBOARD_LANGUAGES = ("en", "ru")

babel = Babel()


def select_locale():
    """The editor's choice (Account), else the browser's best match, else English."""
    from flask_login import current_user
    if current_user and current_user.is_authenticated and current_user.language in DASHBOARD_LANGUAGES:
        return current_user.language
    if request:
        return request.accept_languages.best_match(DASHBOARD_LANGUAGES) or DASHBOARD_LANGUAGES[0]
    return DASHBOARD_LANGUAGES[0]


def select_timezone():
    """The editor's time zone (Account); None: UTC."""
    from flask_login import current_user
    if current_user and current_user.is_authenticated and current_user.time_zone:
        return current_user.time_zone
    return None


def init_app(app):
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(PACKAGE_DIR / "translations"))
