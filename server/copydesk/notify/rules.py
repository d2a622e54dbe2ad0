"""Who hears about a report: a site's rules turned into recipients, each heard once.

A rule matches every report (``match_field`` ""), or those whose article section or author
(as the page declares them, casefolded with whitespace collapsed) equals its value, or those
where at least one reader chose its kind of error.

People hear in their own mode: an editor in their ``Preference`` for the site (no row: the
daily digest; "off": nothing); a plain address in its rule's mode. Chat and webhook rules
are instant. One address hears a report once, in the fastest of the modes that reach it.
"""

from typing import NamedTuple, Optional

import sqlalchemy as sa

from ..db import db
from ..models import KINDS, Editor
from .models import DEFAULT_MODE, MODE_ORDER, AuthorContact, Preference, Rule, match_key


class Recipient(NamedTuple):
    channel: str  # email, slack, telegram, webhook
    address: str  # email address, webhook URL or chat id
    mode: str  # instant, hourly, daily
    rule_id: Optional[int]
    editor_id: Optional[int]
    # Deliveries with one key and one due time are one message (a digest). An address's key
    # names the site: an editor chooses per site, and a digest is about one site.
    recipient_key: str


def normalize_address(address):
    return Editor.normalize_email(address)


def matches(rule, report):
    """Does this rule hear about this report?"""
    if rule.match_field == "":
        return True
    if rule.match_field == "section":
        return match_key(rule.match_value) == match_key(report.article_section) != ""
    if rule.match_field == "author":
        return match_key(rule.match_value) == match_key(report.article_author) != ""
    if rule.match_field == "kind":
        return rule.match_value in KINDS and report.kind_counts.get(rule.match_value, 0) > 0
    return False


class _Site:
    """What routing reads of one site, read once per site however many reports it routes."""

    def __init__(self, site_id):
        self.site_id = site_id
        self.rules = db.session.scalars(sa.select(Rule).where(Rule.site_id == site_id).order_by(Rule.id)).all()
        self._modes = None
        self._editors = None
        self._authors = {}

    def mode_of(self, editor_id):
        if self._modes is None:
            self._modes = dict(db.session.execute(
                sa.select(Preference.editor_id, Preference.mode).where(Preference.site_id == self.site_id)).all())
        return self._modes.get(editor_id, DEFAULT_MODE)

    def active_editors(self):
        """{id: email} of every active editor who may see the site's reports: its members
        and the admins. No one hears about a report they could not open."""
        if self._editors is None:
            self._editors = dict(db.session.execute(
                sa.select(Editor.id, Editor.email).where(Editor.seeing_site(self.site_id))
                .order_by(Editor.id)).all())
        return self._editors

    def author_contact(self, author):
        key = match_key(author)
        if not key:
            return None
        if key not in self._authors:
            self._authors[key] = db.session.scalar(sa.select(AuthorContact).where(
                AuthorContact.site_id == self.site_id, AuthorContact.author_key == key))
        return self._authors[key]


def _email(address, mode, rule, editor_id=None):
    address = normalize_address(address)
    if mode not in MODE_ORDER or not address:
        return None
    return Recipient("email", address, mode, rule.id, editor_id, f"site:{rule.site_id}:email:{address}")


def _recipients_of(rule, report, site):
    if rule.recipient == "everyone":
        return [_email(email, site.mode_of(editor_id), rule, editor_id)
                for editor_id, email in site.active_editors().items()]
    if rule.recipient == "editor":
        email = site.active_editors().get(rule.editor_id)
        return [_email(email, site.mode_of(rule.editor_id), rule, rule.editor_id)] if email else []
    if rule.recipient == "author":
        contact = site.author_contact(report.article_author)
        if contact is None:
            return []
        if contact.editor_id is not None:
            email = site.active_editors().get(contact.editor_id)
            return [_email(email, site.mode_of(contact.editor_id), rule, contact.editor_id)] if email else []
        return [_email(contact.email, rule.mode, rule)]
    if rule.recipient == "email":
        return [_email(rule.target, rule.mode, rule)]
    if rule.recipient in ("slack", "telegram", "webhook"):
        return [Recipient(rule.recipient, rule.target, "instant", rule.id, None, f"rule:{rule.id}")]
    return []


def recipients_for(report, site=None):
    """Everyone who hears about this report, each once. ``site``: what routing read of the
    report's site already (``site_routing``), when routing several of its reports."""
    site = site or site_routing(report.site_id)
    chosen = {}  # recipient_key: Recipient
    for rule in site.rules:
        if not matches(rule, report):
            continue
        for recipient in _recipients_of(rule, report, site):
            if recipient is None:
                continue
            kept = chosen.get(recipient.recipient_key)
            if kept is None or MODE_ORDER.index(recipient.mode) < MODE_ORDER.index(kept.mode):
                chosen[recipient.recipient_key] = recipient
    return list(chosen.values())


def site_routing(site_id):
    """What routing reads of one site, once for all its reports in a planning round."""
    return _Site(site_id)
