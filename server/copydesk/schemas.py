"""marshmallow schemas for every input: the widget's report and the dashboard's actions."""

import re

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates

from .models import RESOLUTIONS
from .text import is_http_url, normalize_block, normalize_inline

MAX_CONTEXT = 64
MAX_COMMENT = 1000
MAX_SELECTION = 300  # default; each site may set its own
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


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


class HttpUrl(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        if not is_http_url(value):
            raise ValidationError("Must be an http(s) URL.")
        return value


class ReportSchema(Schema):
    """What the widget sends for one report (flat, so errors name fields directly)."""

    site = fields.String(required=True, validate=validate.Length(1, 64),
                         metadata={"description": "The site's public key (data-site)."})
    idempotency_key = fields.String(
        required=True, validate=FullMatch(IDEMPOTENCY_KEY, error="Must be 8–64 letters, digits, - or _."),
        metadata={"description": "Client-generated; a replay answers the first result."})
    url = HttpUrl(required=True, validate=validate.Length(max=2048),
                  metadata={"description": "The page address (location.href)."})
    canonical_url = HttpUrl(load_default=None, allow_none=True, validate=validate.Length(max=2048))
    title = InlineText(load_default="", validate=validate.Length(max=500))
    lang = fields.String(load_default="", validate=[validate.Length(max=35), FullMatch(
        r"^$|^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$", error="Must be a language tag such as en or pt-BR.")])
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

    @validates("exact")
    def _exact_not_blank(self, value, data_key):
        stripped = value.strip()
        if not stripped:
            raise ValidationError("Select the text with the error.")
        if len(stripped) > MAX_SELECTION * 10:
            raise ValidationError(f"Select at most {MAX_SELECTION} characters.")

    @post_load
    def _strip_selection(self, data, **kwargs):
        # Edges of the selection are kept in prefix/suffix; the selection itself is trimmed.
        data["exact"] = data["exact"].strip()
        data["prefix"] = data["prefix"].lstrip()
        data["suffix"] = data["suffix"].rstrip()
        data["lang"] = data["lang"].lower()
        return data


class ReportCreatedSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "The report the send was filed under."})
    joined = fields.Boolean(required=True, metadata={"description": "True if it joined an existing report."})
    count = fields.Integer(required=True, metadata={"description": "Submissions on that report."})


class ErrorSchema(Schema):
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


class WidgetConfigSchema(Schema):
    lang = fields.String(required=True)
    max_selection = fields.Integer(required=True)
    max_context = fields.Integer(required=True)
    max_comment = fields.Integer(required=True)


class ReportActionSchema(Schema):
    """A dashboard action on one report (form fields)."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token and the submit button ride along

    action = fields.String(required=True, validate=validate.OneOf(
        ["confirm", "close", "reopen", "note"]))
    resolution = fields.String(load_default=None, validate=validate.OneOf(RESOLUTIONS))
    note = BlockText(load_default="", validate=validate.Length(max=5000))
    # The status the editor saw; if someone changed it meanwhile, the action is refused.
    expected_status = fields.String(load_default=None)

    @post_load
    def _close_needs_resolution(self, data, **kwargs):
        if data["action"] == "close" and not data.get("resolution"):
            raise ValidationError("Choose a resolution.", "resolution")
        if data["action"] == "note" and not data["note"]:
            raise ValidationError("Write a note.", "note")
        return data


def _origin(value):
    from urllib.parse import urlsplit
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise ValidationError(f"{value!r} is not an origin like https://news.example.com.")
    return f"{parts.scheme}://{parts.netloc.lower()}"


class OriginList(fields.String):
    """Origins one per line (or separated by spaces/commas), each scheme://host[:port]."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return sorted({_origin(v) for v in re.split(r"[\s,]+", text) if v})


class SiteSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = InlineText(required=True, validate=validate.Length(1, 200))
    origins = OriginList(required=True)
    language = fields.String(load_default="en", validate=validate.Regexp(
        r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", error="Use a language code such as en or ru."))
    max_selection = fields.Integer(load_default=300, validate=validate.Range(20, 2000))

    @validates("origins")
    def _some_origin(self, value, data_key):
        if not value:
            raise ValidationError("Add at least one origin.")


class EditorSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = InlineText(load_default="", validate=validate.Length(max=200))
    role = fields.String(load_default="editor", validate=validate.OneOf(["admin", "editor"]))


class PasswordChangeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    current_password = fields.String(required=True)
    new_password = fields.String(required=True, validate=validate.Length(
        12, 200, error="Use 12 to 200 characters."))


class ReportFilterSchema(Schema):
    """The dashboard list's query string."""

    class Meta:
        unknown = EXCLUDE

    site = fields.Integer(load_default=None)
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "new", "confirmed", "closed", "all"]))
    resolution = fields.String(load_default=None, validate=validate.OneOf(RESOLUTIONS))
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    q = InlineText(load_default="", validate=validate.Length(max=200))
    sort = fields.String(load_default="newest", validate=validate.OneOf(["newest", "most"]))
    after = fields.String(load_default=None, validate=validate.Regexp(r"^\d+(:\d+)?$"))
    before = fields.String(load_default=None, validate=validate.Regexp(r"^\d+(:\d+)?$"))


_report_schema = ReportSchema()
_LANG_TAG = re.compile(r"^$|^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_INLINE_LIMITS = {"title": 500, "article_id": 200, "article_section": 200, "article_author": 200,
                  "article_published": 64, "prefix": MAX_CONTEXT, "suffix": MAX_CONTEXT}
_REPORT_FIELDS = frozenset(_report_schema.fields)


class _Unusual(Exception):
    """Not a plain valid send: marshmallow decides (and words the errors)."""


def load_report(payload):
    """``ReportSchema().load(payload)`` for a dict, with the same result and the same errors.

    A send is loaded on every report, and marshmallow's generic machinery cost more than
    everything else the view does but storing it; a valid send of the expected shape is
    checked here directly, field by field as the schema declares it, and anything else
    (an error, an odd type) is handed to the schema itself."""
    try:
        return _load_plain(payload)
    except _Unusual:
        return _report_schema.load(payload)


def _text(payload, name, default, max_length, normalize=None):
    value = payload.get(name, _Unusual)
    if value is _Unusual:
        return default
    if type(value) is not str:
        raise _Unusual
    if normalize is not None:
        value = normalize(value)
    if len(value) > max_length:
        raise _Unusual
    return value


def _url(payload, name, required):
    value = payload.get(name, _Unusual)
    if value is _Unusual or value is None:
        if required:
            raise _Unusual
        return None
    if type(value) is not str:
        raise _Unusual
    value = value.strip()
    if not is_http_url(value) or len(value) > 2048:
        raise _Unusual
    return value


def _load_plain(payload):
    if not payload.keys() <= _REPORT_FIELDS:
        raise _Unusual
    site = payload.get("site")
    key = payload.get("idempotency_key")
    if type(site) is not str or not 1 <= len(site) <= 64 \
            or type(key) is not str or IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise _Unusual
    data = {"site": site, "idempotency_key": key, "url": _url(payload, "url", True),
            "canonical_url": _url(payload, "canonical_url", False)}
    for name, max_length in _INLINE_LIMITS.items():
        data[name] = _text(payload, name, "", max_length, normalize_inline)
    lang = _text(payload, "lang", "", 35)
    if _LANG_TAG.fullmatch(lang) is None:
        raise _Unusual
    exact = payload.get("exact")
    if type(exact) is not str:
        raise _Unusual
    exact = normalize_inline(exact).strip()
    if not exact or len(exact) > MAX_SELECTION * 10:
        raise _Unusual
    position = payload.get("position")
    if position is not None and (type(position) is not int or not 0 <= position <= 10_000_000):
        raise _Unusual
    data.update(
        exact=exact, position=position, lang=lang.lower(),
        comment=_text(payload, "comment", "", MAX_COMMENT, normalize_block),
        suggestion=_text(payload, "suggestion", "", MAX_COMMENT, normalize_block),
        website=_text(payload, "website", "", 200))
    data["prefix"] = data["prefix"].lstrip()
    data["suffix"] = data["suffix"].rstrip()
    return data
