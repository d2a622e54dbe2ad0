"""marshmallow schemas for every input: the widget's report and the dashboard's actions."""

import logging
import re
from urllib.parse import urlsplit

from flask_babel import gettext, lazy_gettext
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate, validates

from . import i18n
from .blocks import BLOCK_HOURS
from .checks.anchor import STATES as CHECK_STATES
from .models import DEFAULT_MAX_SELECTION, KINDS, MAX_SITE_SELECTION, RESOLUTIONS, ROLES
from .text import is_http_url, normalize_block, normalize_inline, origin_of

MAX_CONTEXT = 64
MAX_COMMENT = 1000
MAX_ID = 2**31 - 1  # ids are 32-bit in both databases
CURSOR = re.compile(r"[0-9]{1,10}(:[0-9]{1,10})?")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
NOT_EMAIL = "Not an email address."
NOT_A_KIND = "A kind is one of: " + ", ".join(KINDS) + "."

logger = logging.getLogger(__name__)

i18n.translate_form_errors()  # marshmallow's validator messages, in the reader's language


class DeskSchema(Schema):
    """Every schema's base: its messages leave as plain text in the reader's language
    (marshmallow's own field messages are English until here), so callers may join them."""

    def handle_error(self, error, data, *, many, **kwargs):
        error.messages = _as_text(error.messages)


def _as_text(messages):
    if isinstance(messages, dict):
        return {key: _as_text(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_as_text(value) for value in messages]
    return gettext(str(messages))  # a message in the catalogue is translated; any other stays


def parse_whole_number(value, low=0, high=MAX_ID):
    """A query or form value as a whole number from ``low`` to ``high``, else None. ASCII digits
    only: "²".isdigit() is true and int("²") fails."""
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(high))):
        return None
    number = int(value)
    return number if low <= number <= high else None


class FullMatch(validate.Regexp):
    """A pattern the whole value must match: Python's ``$`` also matches before a
    final newline, which JSON Schema's (ECMAScript) ``$`` does not."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class InlineText(fields.String):
    """One line of page text, whitespace-normalized as the widget reads it."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalize_inline(super()._deserialize(value, attr, data, **kwargs))


class BlockText(fields.String):
    """Free text from the reader; line breaks kept, control characters dropped."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalize_block(super()._deserialize(value, attr, data, **kwargs))


class ReportNumber(fields.Integer):
    """A report's number as an editor types it: "123" or "#123"; nothing but a "#" is none."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str):
            value = value.strip().lstrip("#") or None
        return super().deserialize(value, attr, data, **kwargs)


class HttpUrl(fields.String):
    message = "Must be an http(s) URL."

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        if not is_http_url(value):
            raise ValidationError(self.message)
        return value


class FromMarkup(fields.String):
    """A value the widget read from the page's markup (its canonical link, its language):
    one the desk cannot use is dropped (logged), never the reader's report over it."""

    def __init__(self, usable, dropped, **kwargs):
        super().__init__(**kwargs)
        self.usable, self.dropped = usable, dropped

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text or self.usable(text):
            return text or self.dropped
        logger.info("%s from the page's markup is not usable: dropped", attr)
        return self.dropped


class ReportSchema(DeskSchema):
    """What the widget sends for one report (flat, so errors name fields directly)."""

    site = fields.String(required=True, validate=validate.Length(1, 64),
                         metadata={"description": "The site's public key (data-site)."})
    idempotency_key = fields.String(
        required=True, validate=FullMatch(IDEMPOTENCY_KEY, error="Must be 8–64 letters, digits, - or _."),
        metadata={"description": "Client-generated; a replay answers the first result."})
    url = HttpUrl(required=True, validate=validate.Length(max=2048),
                  metadata={"description": "The page address (location.href)."})
    canonical_url = FromMarkup(lambda url: len(url) <= 2048 and is_http_url(url), None, load_default=None,
                               allow_none=True, metadata={"description": "The page's canonical link, if usable."})
    title = InlineText(load_default="", validate=validate.Length(max=500))
    lang = FromMarkup(lambda tag: len(tag) <= 35 and LANGUAGE_TAG.fullmatch(tag), "", load_default="",
                      metadata={"description": "The page's language tag (<html lang>), if usable."})
    article_id = InlineText(load_default="", validate=validate.Length(max=200))
    article_section = InlineText(load_default="", validate=validate.Length(max=200))
    article_author = InlineText(load_default="", validate=validate.Length(max=200))
    article_published = InlineText(load_default="", validate=validate.Length(max=64))
    exact = InlineText(required=True, metadata={"description": "The selected text, whitespace-normalized."})
    prefix = InlineText(load_default="", validate=validate.Length(max=MAX_CONTEXT))
    suffix = InlineText(load_default="", validate=validate.Length(max=MAX_CONTEXT))
    position = fields.Integer(load_default=None, allow_none=True, strict=True,
                              validate=validate.Range(min=0, max=10_000_000),
                              metadata={"description": "Offset of the selection in the article text."})
    comment = BlockText(load_default="", validate=validate.Length(max=MAX_COMMENT))
    suggestion = BlockText(load_default="", validate=validate.Length(max=MAX_COMMENT))
    website = fields.String(load_default="", validate=validate.Length(max=200),
                            metadata={"description": "Honeypot: people leave it empty."})
    email = fields.String(
        load_default=None, allow_none=True,
        validate=[validate.Length(max=254), validate.Email(error=NOT_EMAIL)],
        metadata={"format": "email",
                  "description": "The reader's address for one thank-you when the error is fixed "
                                 "(widget-config `followup`); dropped unless the site offers it."})
    kind = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(KINDS, error=NOT_A_KIND),
        metadata={"description": "What the reader says the mistake is: a typo, a wrong fact, a broken link "
                                 "or image, or other. Optional; dropped unless the site asks (widget-config "
                                 "`kinds`)."})

    BLANK = "Select the text with the error."
    # No site takes more: refused before the site's own limit is looked up.
    TOO_LONG = f"Select at most {MAX_SITE_SELECTION} characters."

    @validates("exact")
    def _exact_not_blank(self, value, data_key):
        stripped = value.strip()
        if not stripped:
            raise ValidationError(self.BLANK)
        if len(stripped) > MAX_SITE_SELECTION:
            raise ValidationError(self.TOO_LONG)

    @post_load
    def _strip_selection(self, data, **kwargs):
        # Edges of the selection are kept in prefix/suffix; the selection itself is trimmed.
        data["exact"] = data["exact"].strip()
        data["prefix"] = data["prefix"].lstrip()
        data["suffix"] = data["suffix"].rstrip()
        data["lang"] = data["lang"].lower()
        return data


# Every code an API error may carry. Field errors use marshmallow's own error keys
# (required, null, invalid: a wrong type, unknown: a field the API does not take).
ERROR_CODES = {
    "required": "A required field is missing.", "null": "The field may not be null.",
    "invalid": "Not a valid value for the field.", "unknown": "The API does not take this field.",
    "too_long": "Longer than the field allows.", "out_of_range": "A number out of range.",
    "not_http_url": "Not an http(s) page address.", "not_email": "Not an email address.",
    "not_a_kind": "Not one of the kinds: " + ", ".join(KINDS) + ".",
    "selection_blank": "No text selected.",
    "selection_too_long": "The selection is longer than the site allows.",
    "unknown_site": "No site has this key.", "origin_refused": "The origin may not send for the site.",
    "page_not_on_site": "The page is not on the site's allowed origins.",
    "rate_limited_address": "Too many sends from this address.",
    "rate_limited_site": "Too many reports for this site.",
    "bad_request": "The body is not a JSON object.", "too_large": "The body is too large.",
    "unsupported_media_type": "The body is not application/json.", "not_found": "No such path.",
    "method_not_allowed": "The path does not take this method.", "error": "Any other error.",
}
_CODE_OF_MESSAGE = {HttpUrl.message: "not_http_url", NOT_EMAIL: "not_email", NOT_A_KIND: "not_a_kind",
                    ReportSchema.BLANK: "selection_blank", ReportSchema.TOO_LONG: "selection_too_long"}


def error_codes(schema, messages):
    """The codes of a ``ValidationError``'s messages from ``schema``, field by field."""
    codes = {}
    for name, texts in messages.items():
        field = schema.fields.get(name)
        keys = {text: key for key, text in (field.error_messages if field else schema.error_messages).items()}
        codes[name] = [keys.get(text) or _CODE_OF_MESSAGE.get(text)
                       or ("too_long" if text.startswith("Longer than maximum length")
                           else "out_of_range" if text.startswith("Must be greater than") else "invalid")
                       for text in texts]
    return codes


class ReportCreatedSchema(DeskSchema):
    id = fields.Integer(required=True, metadata={"description": "The report the send was filed under."})
    joined = fields.Boolean(required=True, metadata={"description": "True if it joined an existing report."})
    count = fields.Integer(required=True, metadata={"description": "Submissions on that report."})


class ErrorSchema(DeskSchema):
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True,
                         metadata={"description": "Messages in English, by field (`_request`: the whole request)."})
    codes = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True,
                        metadata={"description": "A machine-readable code for each message, in the same "
                                                 "order, so a client can word it in the reader's language: "
                                                 + ", ".join(f"`{code}`" for code in ERROR_CODES) + "."})


class WidgetConfigSchema(DeskSchema):
    """What the widget's dialog takes from the desk when it opens: the rules it shows the reader."""

    lang = fields.String(required=True, allow_none=True, metadata={
        "description": "The language the site chose for the dialog (data-lang on the script tag comes "
                       "first, then this, then the page's <html lang>); null: the site follows each "
                       "page's own language."})
    max_selection = fields.Integer(required=True, metadata={
        "description": "Longest selection, in characters; a longer one is refused before the reader types."})
    max_context = fields.Integer(required=True, metadata={
        "description": "Characters of page text kept before and after the selection."})
    max_comment = fields.Integer(required=True, metadata={
        "description": "Longest comment or suggested correction, in characters."})
    followup = fields.Boolean(required=True, metadata={
        "description": "The dialog offers an optional email field: the reader hears once when the "
                       "error is fixed."})
    kinds = fields.Boolean(required=True, metadata={
        "description": "The dialog asks what kind of error it is (`kind` in a report)."})


# The actions a list's bulk form offers; one report's page also reopens and adds notes.
BULK_ACTIONS = ("confirm", "close", "assign", "unassign")


def _need_resolution_details(data):
    """The rules of a close shared by one report's action and a bulk action."""
    if data["action"] == "close" and not data.get("resolution"):
        raise ValidationError(gettext("Choose a resolution."), "resolution")
    if data.get("resolution") == "duplicate" and data["action"] == "close" and not data.get("duplicate_of"):
        raise ValidationError(gettext("Give the number of the report this one duplicates."), "duplicate_of")
    if data.get("block_hours") and data.get("resolution") != "spam":
        raise ValidationError(gettext("Only a report closed as spam blocks its sender."), "block_hours")


class ReportActionSchema(DeskSchema):
    """A dashboard action on one report (form fields)."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token and the submit button ride along

    action = fields.String(required=True, validate=validate.OneOf(
        ["confirm", "close", "reopen", "note", "assign", "unassign"]))
    resolution = fields.String(load_default=None, validate=validate.OneOf(RESOLUTIONS))
    # The report this one repeats (resolution "duplicate").
    duplicate_of = ReportNumber(load_default=None, validate=validate.Range(1, MAX_ID))
    block_hours = fields.Integer(load_default=None, validate=validate.OneOf(BLOCK_HOURS))
    note = BlockText(load_default="", validate=validate.Length(max=5000))
    # The status the editor saw; if someone changed it meanwhile, the action is refused.
    expected_status = fields.String(load_default=None)
    # The list the editor acts from (its query string): where "next" goes afterwards.
    list = fields.String(load_default=None, validate=validate.Length(max=2000))
    # "list": back to that list after a plain form post; else on to its next report.
    back = fields.String(load_default=None, validate=validate.OneOf(["list"]))

    @post_load
    def _close_needs_resolution(self, data, **kwargs):
        _need_resolution_details(data)
        if data["action"] == "note" and not data["note"]:
            raise ValidationError(gettext("Write a note."), "note")
        return data


def _origin(value):
    """An origin exactly as a browser sends it (``origin_of``), typed without a path."""
    refused = ValidationError(gettext("%(origin)r is not an origin like https://news.example.com.", origin=value))
    try:
        parts = urlsplit(value)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise refused
        return origin_of(value)
    except ValueError:
        raise refused from None


class OriginList(fields.String):
    """Origins one per line (or separated by spaces/commas), each scheme://host[:port]."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return sorted({_origin(v) for v in re.split(r"[\s,]+", text) if v})


class SiteSchema(DeskSchema):
    class Meta:
        unknown = EXCLUDE

    name = InlineText(required=True, validate=validate.Length(max=200))
    origins = OriginList(required=True)
    # None (left empty): the dialog follows each page's own language.
    language = fields.String(load_default=None, allow_none=True, validate=FullMatch(
        r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", error=lazy_gettext("Use a language code such as en or ru.")))
    max_selection = fields.Integer(load_default=DEFAULT_MAX_SELECTION, validate=validate.Range(20, MAX_SITE_SELECTION))
    # Checkboxes: left out of the form when unticked.
    reader_followup = fields.Boolean(load_default=False)
    kinds_enabled = fields.Boolean(load_default=False)
    # Open reports' pages are checked this often; 0: never (at most monthly otherwise).
    check_every_hours = fields.Integer(load_default=24, validate=validate.Range(
        0, 24 * 31, error=lazy_gettext("Give a number of hours from 0 (never) to 744 (a month).")))

    @validates("name")
    def _some_name(self, value, data_key):
        if not value.strip():
            raise ValidationError(gettext("Give the site a name."))

    @post_load
    def _strip_name(self, data, **kwargs):
        data["name"] = data["name"].strip()
        return data

    @validates("origins")
    def _some_origin(self, value, data_key):
        if not value:
            raise ValidationError(gettext("Add at least one origin."))


class EditorSchema(DeskSchema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = InlineText(load_default="", validate=validate.Length(max=200))
    role = fields.String(load_default="editor", validate=validate.OneOf(ROLES))


# The one rule for a new password, in the dashboard and the CLI.
PASSWORD_LENGTH = validate.Length(12, 200, error=lazy_gettext("Use a password of 12 to 200 characters."))


class PasswordChangeSchema(DeskSchema):
    class Meta:
        unknown = EXCLUDE

    current_password = fields.String(required=True)
    new_password = fields.String(required=True, validate=PASSWORD_LENGTH)


def _list_position(value):
    if not CURSOR.fullmatch(value) or any(int(number) > MAX_ID for number in value.split(":")):
        raise ValidationError(gettext("Not a position in the list."))


CHECK_FILTERS = (*CHECK_STATES, "unchecked")


class ReportFilterSchema(DeskSchema):
    """The dashboard list's query string."""

    class Meta:
        unknown = EXCLUDE

    site = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "new", "confirmed", "closed", "all"]))
    resolution = fields.String(load_default=None, validate=validate.OneOf(RESOLUTIONS))
    # Reports where at least one reader chose this kind.
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    # The page check's last state, or "unchecked".
    check = fields.String(load_default=None, validate=validate.OneOf(CHECK_FILTERS))
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    q = InlineText(load_default="", validate=validate.Length(max=200))
    sort = fields.String(load_default="newest", validate=validate.OneOf(["newest", "most"]))
    # "me": the current editor's reports ("Mine"); "none": nobody's yet ("Unassigned").
    assignee = fields.String(load_default=None, validate=validate.OneOf(["me", "none"]))
    # A position in the list: "id", or "count:id" when most reported first.
    after = fields.String(load_default=None, validate=_list_position)
    before = fields.String(load_default=None, validate=_list_position)


# Reports one bulk action on the list takes at most: a click stays a short request.
BULK_LIMIT = 200


class ReportIdsSchema(DeskSchema):
    """The reports a confirmed bulk action is for (its confirmation page listed them)."""

    class Meta:
        unknown = EXCLUDE

    report = fields.List(fields.Integer(validate=validate.Range(1, MAX_ID)), required=True,
                         validate=validate.Length(1, BULK_LIMIT, error=lazy_gettext(
                             "Choose 1 to %(limit)d reports.", limit=BULK_LIMIT)))


class ReportBulkSchema(DeskSchema):
    """An action on the reports ticked in the list, or on all those matching its filter
    (``all_matching``; at most BULK_LIMIT a click). ``expected_<id>`` fields carry the status
    each ticked row showed: a report changed since is left as it is. The list itself travels
    as one ``list`` field (its query string), so its filters never mix with the action's."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token and the list's filters ride along

    action = fields.String(required=True, validate=validate.OneOf(BULK_ACTIONS))
    resolution = fields.String(load_default=None, validate=validate.OneOf(RESOLUTIONS))
    duplicate_of = ReportNumber(load_default=None, validate=validate.Range(1, MAX_ID))
    report = fields.List(fields.Integer(validate=validate.Range(1, MAX_ID)), load_default=lambda: [],
                         validate=validate.Length(max=BULK_LIMIT, error=lazy_gettext(
                             "Tick at most %(limit)s reports, or choose all matching the filter.",
                             limit=BULK_LIMIT)))
    all_matching = fields.Boolean(load_default=False)
    list = fields.String(load_default="", validate=validate.Length(max=2000))
    expected = fields.Dict(keys=fields.Integer(), values=fields.String(), load_default=dict)

    @pre_load
    def _gather_expected(self, data, **kwargs):
        expected = {name.removeprefix("expected_"): value for name, value in data.items()
                    if re.fullmatch(r"expected_[0-9]{1,10}", name)}
        return {**data, "expected": expected}

    @post_load
    def _some_reports(self, data, **kwargs):
        if not data["report"] and not data["all_matching"]:
            raise ValidationError(gettext("Tick the reports to act on, or choose all matching the filter."),
                                  "report")
        _need_resolution_details(data)
        return data


class SeenSchema(DeskSchema):
    """What the editor's view showed when they acted, so that a view gone stale is refused
    rather than acted on: who held the report (one report's action; empty: nobody), and for
    "all matching" the newest report id on the desk and the count offered (``dashboard.reports.shown_matching``)."""

    class Meta:
        unknown = EXCLUDE  # the action's own fields ride along

    expected_assignee = fields.String(load_default=None, validate=FullMatch(r"[0-9]{0,10}"))
    seen_newest = fields.Integer(load_default=None, validate=validate.Range(0, MAX_ID))
    seen_matching = fields.Integer(load_default=None, validate=validate.Range(0, BULK_LIMIT + 1))
