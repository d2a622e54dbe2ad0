"""The one validation of who hears a site's reports: rules, author contacts and editors'
preferences, for the CLI (``copydesk notify``) and the dashboard alike."""

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate, validates, validates_schema

from ..models import KINDS  # noqa: F401 - what readers may choose (issue 13); rules may listen for one
from ..schemas import DeskSchema, InlineText
from ..text import is_http_url
from .models import MODE_ORDER, MODES, RECIPIENTS

# How a plain address (an email rule, an author's address) hears: "off" is removing the rule.
RULE_MODES = MODE_ORDER
# Each recipient that takes a ``target``, and what its form asks when none is given.
TARGETS = {"editor": lazy_gettext("Give the editor's email."), "email": lazy_gettext("Give an email address."),
           "slack": lazy_gettext("Give the Slack webhook URL."), "telegram": lazy_gettext("Give the Telegram chat id."),
           "webhook": lazy_gettext("Give the webhook URL.")}
# A numeric chat id (negative for groups) or a public @channelname.
TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")
# A bot token as @BotFather gives it: the bot's number, a colon, the secret part.
TELEGRAM_TOKEN = re.compile(r"[0-9]{3,20}:[A-Za-z0-9_-]{20,100}")
EMAIL = fields.Email(validate=validate.Length(max=254))


class RuleSchema(DeskSchema):
    """A new rule: who hears (``recipient`` and its ``target``), what they hear (at most
    one of section, author, kind; none = every report) and, for an address, how often."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token and the submit button ride along

    recipient = fields.String(required=True, validate=validate.OneOf(
        RECIPIENTS, error=lazy_gettext("A recipient is one of: %(choices)s.", choices=", ".join(RECIPIENTS))))
    target = fields.String(load_default="", validate=validate.Length(max=2048))
    token = fields.String(load_default="", validate=validate.Length(max=200))
    mode = fields.String(load_default=None, validate=validate.OneOf(
        RULE_MODES, error=lazy_gettext("A mode is one of: %(choices)s.", choices=", ".join(RULE_MODES))))
    section = InlineText(load_default="", validate=validate.Length(max=200))
    author = InlineText(load_default="", validate=validate.Length(max=200))
    kind = fields.String(load_default="", validate=validate.OneOf(
        ("", *KINDS), error=lazy_gettext("A kind is one of: %(choices)s.", choices=", ".join(KINDS))))

    @validates_schema
    def _fits_the_recipient(self, data, **kwargs):
        recipient, target = data["recipient"], data["target"].strip()
        if recipient in TARGETS and not target:
            raise ValidationError(str(TARGETS[recipient]), "target")
        if recipient not in TARGETS and target:
            raise ValidationError(_("A rule for %(recipient)s takes no address or URL.", recipient=recipient), "target")
        if recipient in ("editor", "email"):
            try:
                EMAIL.deserialize(target)
            except ValidationError:
                raise ValidationError(_("%(target)r is not an email address.", target=target), "target") from None
        elif recipient in ("slack", "webhook") and not is_http_url(target):
            raise ValidationError(_("%(target)r is not an https:// (or http://) URL "
                                    "without a user name or password in it.", target=target), "target")
        elif recipient == "telegram" and not TELEGRAM_CHAT.fullmatch(target):
            raise ValidationError(_("%(target)r is not a Telegram chat id (a number such as "
                                    "-1001234567890, or @channelname).", target=target), "target")
        if recipient == "telegram" and not TELEGRAM_TOKEN.fullmatch(data["token"].strip()):
            raise ValidationError(_("Give the bot's token as @BotFather shows it, like 123456789:AAE…"), "token")
        if recipient != "telegram" and data["token"]:
            raise ValidationError(_("Only a Telegram rule takes a bot token."), "token")
        if data["mode"] is not None and recipient not in ("email", "author"):
            raise ValidationError(
                _("Only email and author rules take a mode: editors choose theirs under Account, "
                  "and chats and webhooks hear every report at once."), "mode")
        if recipient == "author" and data["author"]:
            raise ValidationError(_("An author rule reaches each article's own author: it takes no "
                                    "author to hear (add an author contact instead)."), "author")
        if sum(bool(data[field]) for field in ("section", "author", "kind")) > 1:
            raise ValidationError(_("A rule hears one of: a section, an author or a kind (or every report)."),
                                  "section")

    @validates("section", "author")
    def _not_blank(self, value, data_key):
        if value and not value.strip():
            raise ValidationError(_("Give a name, or leave it empty for every report."))

    @post_load
    def _as_rule(self, data, **kwargs):
        """The loaded form as ``Rule.add`` takes it."""
        match = next(((field, data[field].strip()) for field in ("section", "author", "kind") if data[field]),
                     ("", ""))
        target = data["target"].strip()
        if data["recipient"] in ("editor", "email"):
            target = target.lower()
        return {"recipient": data["recipient"], "target": target, "token": data["token"].strip(),
                "mode": data["mode"] or "instant", "match_field": match[0], "match_value": match[1]}


class AuthorContactSchema(DeskSchema):
    """Where reports on one author's articles go: an email address, an editor's or not."""

    class Meta:
        unknown = EXCLUDE

    author = InlineText(required=True, validate=validate.Length(max=200))
    address = fields.Email(required=True, validate=validate.Length(max=254))

    @validates("author")
    def _some_author(self, value, data_key):
        if not value.strip():
            raise ValidationError(_("Give the author's name as the pages declare it."))

    @post_load
    def _tidy(self, data, **kwargs):
        return {"author": data["author"].strip(), "address": data["address"].strip().lower()}


class PreferenceSchema(DeskSchema):
    mode = fields.String(required=True, validate=validate.OneOf(
        MODES, error=lazy_gettext("A choice is one of: %(choices)s.", choices=", ".join(MODES))))


def preference_modes(form, site_ids):
    """The Account form's choices (``mode-<site id>`` fields) as {site id: mode}, for the
    given sites; raises ValidationError naming the bad field."""
    schema, chosen = PreferenceSchema(), {}
    for site_id in site_ids:
        name = f"mode-{site_id}"
        if name in form:
            try:
                chosen[site_id] = schema.load({"mode": form[name]})["mode"]
            except ValidationError as err:
                raise ValidationError({name: err.messages["mode"]}) from None
    return chosen

