"""``copydesk notify …``: who hears about a site's reports, from the command line."""

import click
from flask import current_app
from flask_babel import gettext as _
from marshmallow import ValidationError

from ..audit import record
from ..cli import needs_schema, refusal, usage_error
from ..db import db
from ..models import Refused, Site
from .models import RECIPIENTS, AuthorContact, Rule
from .schemas import KINDS, RULE_MODES, AuthorContactSchema, RuleSchema


@click.group("notify")
def notify():
    """Who hears about a site's reports: rules (add, list, remove, rotate-secret, test) and
    author contacts (authors, author). SITE is a site's key or name (put -- before a key
    that starts with -)."""


def _site(key_or_name):
    site = Site.find(key_or_name)
    if site is None:
        raise click.ClickException(_("No site has the key or name %(site)r.", site=key_or_name))
    return site


def _rule(site, rule_id):
    rule = Rule.find(site, rule_id)
    if rule is None:
        raise click.ClickException(_("The site %(name)r has no rule %(rule)d (see %(command)s).", name=site.name,
                                     rule=rule_id, command="`copydesk notify list " + site.key + "`"))
    return rule


def warn_if_mail_waits(rule):
    """Mail queues until SMTP_URL is set: say so when a rule would send some."""
    if rule.reaches_email and not current_app.config["SMTP_URL"]:
        click.echo(_("Warning: COPYDESK_SMTP_URL is not set, so email waits until it is; "
                     "nothing is lost meanwhile."), err=True)


def describe(rule):
    return f"{rule.id}\t{rule.recipient}\t{rule.shown_target}\t{rule.hears}\t{rule.shown_mode}"


# A group chat's id is negative (-1001234567890): taken as TARGET, not as an option.
@notify.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("site")
@click.argument("recipient", type=click.Choice(RECIPIENTS))
@click.argument("target", required=False, default="")
@click.option("--mode", type=click.Choice(RULE_MODES), default=None,
              help="How an email address (or an author's plain address) hears: every report at once "
                   "(instant, the default), or an hourly or daily digest.")
@click.option("--token", default="", help="The Telegram bot's token (telegram only).")
@click.option("--section", default="", help="Hear only reports on articles of this section.")
@click.option("--author", default="", help="Hear only reports on articles by this author.")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Hear only reports of this kind.")
@needs_schema
def notify_add(site, recipient, target, mode, token, section, author, kind):
    """Add a rule: who hears SITE's reports.

    \b
    RECIPIENT and TARGET:
      everyone                  every editor, each in their own mode (Account)
      editor EDITOR_EMAIL       one editor, in their own mode
      author                    the article's author, per `copydesk notify author`
      email ADDRESS             a plain address (--mode instant|hourly|daily)
      slack URL                 a Slack incoming webhook
      telegram CHAT_ID          a Telegram chat (--token TOKEN)
      webhook URL               a signed webhook; prints its secret once
    """
    found = _site(site)
    form = {"recipient": recipient, "target": target, "token": token, "section": section,
            "author": author, "kind": kind or "", **({"mode": mode} if mode else {})}
    try:
        rule = Rule.add(found, **RuleSchema().load(form))
    except ValidationError as err:
        raise usage_error(err) from None
    except Refused as err:
        raise refusal(err) from None
    record("notification_rule_added", found, via="cli", rule=rule.id, recipient=rule.recipient,
           target=rule.shown_target, hears=rule.hears)
    db.session.commit()
    click.echo(_("Rule %(rule)d added: %(target)s hears %(hears)s (%(mode)s).", rule=rule.id,
                 target=rule.shown_target, hears=rule.hears, mode=rule.shown_mode))
    if rule.recipient == "webhook":
        click.echo(_("Signing secret (shown only this once; keep it with the receiver): %(secret)s",
                     secret=rule.secret))
    warn_if_mail_waits(rule)


@notify.command("list")
@click.argument("site")
@needs_schema
def notify_list(site):
    """List SITE's rules: id, recipient, target (secrets masked), what it hears, mode."""
    found = _site(site)
    rules = Rule.of_site(found)
    if not rules:
        click.echo(_("The site %(name)r has no rules: nobody hears its reports.", name=found.name))
    for rule in rules:
        click.echo(describe(rule))


@notify.command("remove")
@click.argument("site")
@click.argument("rule_id", type=click.IntRange(min=1))
@needs_schema
def notify_remove(site, rule_id):
    """Remove a rule; its messages not yet sent are cancelled."""
    found = _site(site)
    rule = _rule(found, rule_id)
    shown = rule.shown_target
    cancelled = rule.remove()
    record("notification_rule_removed", found, via="cli", rule=rule_id, target=shown, cancelled=cancelled)
    db.session.commit()
    click.echo(_("Rule %(rule)d removed; %(num)d pending message(s) cancelled.", rule=rule_id, num=cancelled))


@notify.command("rotate-secret")
@click.argument("site")
@click.argument("rule_id", type=click.IntRange(min=1))
@needs_schema
def notify_rotate_secret(site, rule_id):
    """Give a webhook rule a new signing secret (printed once); the old one also signs for 24 hours."""
    found = _site(site)
    rule = _rule(found, rule_id)
    try:
        secret = rule.rotate_secret()
    except Refused as err:
        raise refusal(err) from None
    record("notification_secret_rotated", found, via="cli", rule=rule.id, target=rule.shown_target)
    db.session.commit()
    click.echo(_("New signing secret (shown only this once): %(secret)s", secret=secret))
    click.echo(_("Messages carry a signature with the previous secret too until %(until)s UTC.",
                 until=format(rule.previous_secret_until, "%Y-%m-%d %H:%M")))


@notify.command("authors")
@click.argument("site")
@needs_schema
def notify_authors(site):
    """List SITE's author contacts: author name, then where their reports go."""
    found = _site(site)
    contacts = AuthorContact.of_site(found)
    if not contacts:
        click.echo(_("The site %(name)r has no author contacts.", name=found.name))
    for contact in contacts:
        click.echo(f"{contact.author}\t{contact.address}{' (editor)' if contact.editor_id else ''}")


@notify.command("author")
@click.argument("site")
@click.argument("author")
@click.argument("address", required=False)
@click.option("--remove", is_flag=True, help="Remove the author's contact.")
@needs_schema
def notify_author(site, author, address, remove):
    """Send reports on AUTHOR's articles (the name pages declare) to ADDRESS: an editor's
    email (they hear in their own mode) or any address. An `author` rule uses these."""
    found = _site(site)
    if remove:
        if address:
            raise click.UsageError(_("Give either an ADDRESS or --remove."))
        contact = AuthorContact.find(found, author)
        if contact is None:
            raise click.ClickException(_("The site %(name)r has no contact for %(author)r.", name=found.name,
                                         author=author))
        contact.remove()
        db.session.commit()
        click.echo(_("Contact for “%(author)s” removed.", author=contact.author))
        return
    if not address:
        raise click.UsageError(_("Give the ADDRESS reports on this author's articles go to, or --remove."))
    try:
        contact = AuthorContact.set(found, **AuthorContactSchema().load({"author": author, "address": address}))
    except ValidationError as err:
        raise usage_error(err) from None
    except Refused as err:
        raise refusal(err) from None
    click.echo(_("Reports on articles by “%(author)s” go to the editor %(address)s.", author=contact.author,
                 address=contact.address) if contact.editor_id else
               _("Reports on articles by “%(author)s” go to %(address)s.", author=contact.author,
                 address=contact.address))
    if not any(rule.recipient == "author" for rule in Rule.of_site(found)):
        click.echo(_("Note: no `author` rule on the site yet; add one with %(command)s.",
                     command="`copydesk notify add " + found.key + " author`"), err=True)


@notify.command("test")
@click.argument("site")
@needs_schema
def notify_test(site):
    """Send a test through each of SITE's rules now and print each outcome (exit 1 if any failed)."""
    found = _site(site)
    rules = Rule.of_site(found)
    if not rules:
        click.echo(_("The site %(name)r has no rules: nothing to test.", name=found.name))
        return
    failed = 0
    for rule in rules:
        for outcome in rule.test():
            words = {"ok": _("ok"), "failed": _("failed: %(detail)s", detail=outcome.detail),
                     "not tried": _("not tried: %(detail)s", detail=outcome.detail),
                     "nobody": _("nothing sent: %(detail)s", detail=outcome.detail)}[outcome.state]
            click.echo(f"rule {rule.id} {rule.recipient} {outcome.target}: {words}")
            failed += outcome.state == "failed"
    if failed:
        click.get_current_context().exit(1)
