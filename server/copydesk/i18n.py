"""The dashboard's, the emails' and the CLI's languages (Flask-Babel): which language and
time zone each request uses, and how a moment is shown (``when``). Catalogues live in
``translations/``; without their compiled ``.mo`` files everything is in English."""

import os
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import available_timezones

import pytz  # Flask-Babel's own time zones: a name must be known to both
from babel import Locale
from babel.dates import format_datetime, get_date_format, get_datetime_format, get_time_format
from flask import request
from flask_babel import Babel, format_timedelta, get_locale, get_timezone
from markupsafe import Markup, escape

from . import PACKAGE_DIR

TRANSLATIONS = PACKAGE_DIR / "translations"


def _languages():
    """English (the source, and the fallback) and every language with a catalogue, each
    named in itself: adding a language is adding its catalogue."""
    codes = sorted(po.parent.parent.name for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    named = {code: Locale.parse(code).get_display_name(code) for code in ["en", *codes]}
    return {code: name[:1].upper() + name[1:] for code, name in named.items()}


# The languages the dashboard speaks: {"en": "English", "ru": "Русский"}.
DASHBOARD_LANGUAGES = _languages()

# The browser's time zone (static/i18n.js), used until the editor chooses one in Account.
TIME_ZONE_COOKIE = "copydesk_tz"

# Moments closer to now than this read better as "3 hours ago"; older ones as a date.
RELATIVE_WITHIN = timedelta(hours=24)

babel = Babel()


@lru_cache(maxsize=1)
def time_zones():
    """The IANA names an editor may choose, sorted (the system's and pytz's, both)."""
    return tuple(sorted(available_timezones() & set(pytz.all_timezones)))


def is_time_zone(name):
    return name in time_zones()


def select_locale():
    """The editor's choice (Account), else the browser's best match, else English; outside
    a request (the CLI, the worker), the command line's language."""
    from flask_login import current_user
    if current_user and current_user.is_authenticated and current_user.language in DASHBOARD_LANGUAGES:
        return current_user.language
    if request and request.blueprint == "api":
        return "en"  # the widget words the API's messages itself, by their codes
    if request:
        return request.accept_languages.best_match(DASHBOARD_LANGUAGES) or next(iter(DASHBOARD_LANGUAGES))
    return command_line_language()


def command_line_language(environ=os.environ):
    """COPYDESK_LANGUAGE, else the first locale variable set as POSIX orders them (LC_ALL,
    LC_MESSAGES, LANG: "ru_RU.UTF-8" is Russian), when the desk speaks it; else English."""
    for name in ("COPYDESK_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            code = environ[name].split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
            return code if code in DASHBOARD_LANGUAGES else next(iter(DASHBOARD_LANGUAGES))
    return next(iter(DASHBOARD_LANGUAGES))


def browser_time_zone():
    """The zone the editor's browser reported, if it is a known one; else None."""
    name = request.cookies.get(TIME_ZONE_COOKIE) if request else None
    return name if name and is_time_zone(name) else None


def select_timezone():
    """The editor's time zone (Account), else their browser's; None: UTC."""
    from flask_login import current_user
    if current_user and current_user.is_authenticated and current_user.time_zone \
            and is_time_zone(current_user.time_zone):
        return current_user.time_zone
    return browser_time_zone()


def exact_time(moment):
    """``moment`` (naive UTC, as stored) in the editor's zone and language, to the minute,
    with the zone named: "Nov 26, 2026, 2:58 PM (Europe/Moscow)"."""
    zone, locale = get_timezone(), get_locale()
    local = _aware(moment).astimezone(zone)
    return f"{format_datetime(local, _exact_pattern(str(locale)), tzinfo=zone, locale=locale)} ({zone.zone})"


@lru_cache(maxsize=None)
def _exact_pattern(locale_name):
    """The language's medium date and short time, joined as its medium date and time joins
    them: one pattern, so a list of fifty moments looks the language's rules up once."""
    return (get_datetime_format("medium", locale=locale_name)
            .replace("{1}", get_date_format("medium", locale=locale_name).pattern)
            .replace("{0}", get_time_format("short", locale=locale_name).pattern))


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def when(moment, relative=True, now=None):
    """One ``<time>`` for every moment shown to editors: relative ("3 hours ago", "in 5
    minutes") within ``RELATIVE_WITHIN`` of now, else (or with ``relative=False``, for a
    sentence such as "until …") the exact time. The exact time with its zone is in ``title``
    for the mouse and in a visually hidden span for screen readers (read in place, without
    adding a tab stop to every row of a list)."""
    if moment is None:
        return ""
    moment = _aware(moment).astimezone(timezone.utc)
    iso = moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    exact = escape(exact_time(moment))
    delta = moment - (now or datetime.now(timezone.utc))
    if relative and abs(delta) < RELATIVE_WITHIN:
        shown = escape(format_timedelta(delta, granularity="minute", add_direction=True))
        return Markup(f'<time datetime="{iso}" title="{exact}">{shown}'
                      f'<span class="visually-hidden"> ({exact})</span></time>')
    return Markup(f'<time datetime="{iso}" title="{exact}">{exact}</time>')


def wait_words(seconds):
    """How long to wait, rounded up, in the reader's words, as said after "wait" or "in"
    ("1 minute", "4 minutes", "3 hours"; Russian "1 минуту")."""
    from flask_babel import ngettext
    minutes = -(-int(seconds) // 60)
    if minutes <= 90:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    return ngettext("%(num)d hour", "%(num)d hours", -(-minutes // 60))


def translate_form_errors():
    """marshmallow's own messages in the language of whoever reads them. Its validators'
    messages are formatted when raised ("Longer than maximum length 200."): lazy here, they
    are formatted in that language. A field's own ("Missing data for required field.") must
    stay a str: ``schemas.DeskSchema`` translates those when a form is refused; listed
    here so `make messages` finds them."""
    from flask_babel import lazy_gettext
    from marshmallow import validate
    validate.Length.message_min = lazy_gettext("Shorter than minimum length {min}.")
    validate.Length.message_max = lazy_gettext("Longer than maximum length {max}.")
    validate.Length.message_all = lazy_gettext("Length must be between {min} and {max}.")
    validate.Length.message_equal = lazy_gettext("Length must be {equal}.")
    validate.OneOf.default_message = lazy_gettext("Must be one of: {choices}.")
    return (lazy_gettext("Missing data for required field."), lazy_gettext("Field may not be null."),
            lazy_gettext("Invalid value."), lazy_gettext("Not a valid string."),
            lazy_gettext("Not a valid integer."), lazy_gettext("Not a valid number."),
            lazy_gettext("Number too large."), lazy_gettext("Not a valid boolean."), lazy_gettext("Not a valid date."),
            lazy_gettext("Not a valid list."), lazy_gettext("Not a valid email address."))


def init_app(app):
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(TRANSLATIONS))
    app.add_template_global(when)
    app.add_template_global(get_locale, "current_locale")
    # The stored English values (statuses, resolutions, roles, kinds, page-check states) as
    # the dashboard and the emails show them, in the editor's language.
    from .checks import STATE_LABELS
    from .models import KIND_LABELS, RESOLUTION_LABELS, ROLE_LABELS, STATUS_LABELS
    from .notify.models import DELIVERY_KIND_LABELS, DELIVERY_STATE_LABELS
    app.jinja_env.globals.update(STATUS_LABELS=STATUS_LABELS, RESOLUTION_LABELS=RESOLUTION_LABELS,
                                 ROLE_LABELS=ROLE_LABELS, KIND_LABELS=KIND_LABELS, CHECK_STATE_LABELS=STATE_LABELS,
                                 DELIVERY_KIND_LABELS=DELIVERY_KIND_LABELS, DELIVERY_STATE_LABELS=DELIVERY_STATE_LABELS)
