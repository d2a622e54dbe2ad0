"""What a notification says, in each channel's format. The words live in the templates
under ``templates/mail/`` (so they can be translated); here the facts they show.

Every message is built from a report's own fields and its readers' suggestions and
comments only: never a submission's IP hash, user agent or reader address (a reader's
thank-you goes to that reader's own address, and says nothing about anyone else).
"""

import logging
import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import force_locale

from .. import fragments
from ..db import db
from ..models import Editor, Event, Report, Submission, utcnow

COMMENTS_SHOWN = 3
SUGGESTIONS_SHOWN = 10
# Characters of context shown on each side of the selection.
CONTEXT_SHOWN = 80
# A digest lists this many reports, then says how many more there are (and links them).
DIGEST_SHOWN = 50
# A reader's thank-you quotes a suggestion only when this many readers made it (the most
# made one): never one reader's own free text, which anyone could fill with anything.
AGREED_READERS = 2
# Reader thank-yous are in the report's language when there is a template for it.
THANKS_LANGUAGES = ("en", "ru")
# Slack refuses a section text longer than this; Telegram a message longer than this.
SLACK_TEXT_MAX = 3000
TELEGRAM_TEXT_MAX = 4096
# How much of each field a chat message shows, fullest first: the first that fits is sent,
# so no cut ever falls inside a tag, an entity or a link (see ``_fitted``).
CHAT_CUTS = (
    {"title": 300, "exact": 500, "context": True, "suggestions": (5, 200), "comments": (3, 300), "link": True},
    {"title": 200, "exact": 300, "context": True, "suggestions": (3, 100), "comments": (1, 150), "link": True},
    {"title": 100, "exact": 200, "context": False, "suggestions": (1, 100), "comments": (0, 0), "link": False},
)


@dataclass
class ReportFacts:
    """What every channel says about one report."""
    id: int
    site_name: str
    title: str
    # The page's address, and the link to the reported words on it; None when the address
    # is not (or no longer) on one of the site's origins: then it is shown, never linked.
    page_url: str
    page_link: Optional[str]
    # The context around the selection as shown (``CONTEXT_SHOWN`` each side, cut at a word
    # with "…"), and as the reader's browser captured it (what a webhook carries).
    before: str
    exact: str
    after: str
    readers: int
    reason: str
    count: int
    dashboard_url: str
    status: str
    lang: str
    section: str
    author: str
    created_at: datetime
    prefix: str = ""
    suffix: str = ""
    suggestions: list = field(default_factory=list)  # [(text, readers)], most suggested first
    comments: list = field(default_factory=list)  # latest first
    kinds: dict = field(default_factory=dict)  # {kind: readers} of the kinds readers chose (models.KINDS)
    kinds_shown: str = ""  # the same in words: "typo ×3, wrong fact ×1"


@dataclass
class Email:
    subject: str
    text: str
    html: str


def _shown_before(prefix):
    """The end of the context before the selection, at most ``CONTEXT_SHOWN`` characters,
    starting at a word ("…" where it was cut)."""
    if len(prefix) <= CONTEXT_SHOWN:
        return prefix
    cut = prefix[-CONTEXT_SHOWN:]
    space = cut.find(" ")
    return "…" + (cut[space + 1:] if 0 <= space < CONTEXT_SHOWN // 2 else cut)


def _shown_after(suffix):
    if len(suffix) <= CONTEXT_SHOWN:
        return suffix
    cut = suffix[:CONTEXT_SHOWN]
    space = cut.rfind(" ")
    return (cut[:space] if space > CONTEXT_SHOWN // 2 else cut) + "…"


def desk_address():
    """The desk's public address for links (``cli.desk_url``), "" when none can be told (a
    socket-file bind without COPYDESK_PUBLIC_URL). Worked out once per process outside a
    request, so the worker warns about an unset COPYDESK_PUBLIC_URL once, not with every
    message, in its log (a line of the server's JSON log under `copydesk serve`)."""
    import click
    from flask import has_request_context

    from ..cli import desk_url
    if has_request_context():
        return desk_url()
    app = current_app._get_current_object()
    if app not in _DESK_ADDRESSES:
        try:
            _DESK_ADDRESSES[app] = desk_url(warn=logging.getLogger(__name__).warning)
        except click.UsageError:
            _DESK_ADDRESSES[app] = ""
    return _DESK_ADDRESSES[app]


_DESK_ADDRESSES = weakref.WeakKeyDictionary()


def desk_link(endpoint, **values):
    """The desk's page for a dashboard route (``dashboard.report``, ``dashboard.reports``),
    built from the route itself; "" when the desk's address is unknown."""
    base = desk_address()
    if not base:
        return ""
    return base.rstrip("/") + current_app.url_map.bind("desk.invalid").build(endpoint, values)


def report_link(report_id):
    """The report's page in the dashboard; "" if the desk's address is unknown."""
    return desk_link("dashboard.report", report_id=report_id)


def _ranked(query, partition, order, limit):
    """The first ``limit`` rows of ``query`` per ``partition``, in ``order`` (one query for
    every report, not one per report)."""
    rank = sa.func.row_number().over(partition_by=partition, order_by=order).label("position")
    ranked = query.add_columns(rank).subquery()
    columns = [column for column in ranked.c if column.name != "position"]
    return db.session.execute(sa.select(*columns).where(ranked.c.position <= limit)
                              .order_by(ranked.c.report_id, ranked.c.position)).all()


def suggestions_for(report_ids, limit=SUGGESTIONS_SHOWN):
    """{report id: [(suggestion, readers)]}: each distinct suggestion with how many readers
    made it, most made first (then first made), for every report at once."""
    readers = sa.func.count().label("readers")
    first = sa.func.min(Submission.id).label("first")
    grouped = (sa.select(Submission.report_id, Submission.suggestion, readers, first)
               .where(Submission.report_id.in_(report_ids), Submission.suggestion != "")
               .group_by(Submission.report_id, Submission.suggestion).subquery())
    rows = _ranked(sa.select(grouped.c.report_id, grouped.c.suggestion, grouped.c.readers),
                   grouped.c.report_id, (grouped.c.readers.desc(), grouped.c.first), limit)
    found = {}
    for report_id, suggestion, count in rows:
        found.setdefault(report_id, []).append((suggestion, count))
    return found


def suggestions_of(report_id, limit=SUGGESTIONS_SHOWN):
    """Each distinct suggestion on one report with how many readers made it, most made first."""
    return suggestions_for([report_id], limit).get(report_id, [])


def comments_for(report_ids, limit=COMMENTS_SHOWN):
    """{report id: [comment]}: each report's latest comments, latest first."""
    rows = _ranked(sa.select(Submission.report_id, Submission.comment)
                   .where(Submission.report_id.in_(report_ids), Submission.comment != ""),
                   Submission.report_id, Submission.id.desc(), limit)
    found = {}
    for report_id, comment in rows:
        found.setdefault(report_id, []).append(comment)
    return found


def _facts(report, reason, count, suggestions, comments):
    site = report.site
    link = fragments.page_link(report)
    return ReportFacts(
        id=report.id, site_name=site.name, title=report.title or "", page_url=report.page_url,
        page_link=link if site.has_page(link) else None,
        before=_shown_before(report.prefix or ""), exact=report.exact, after=_shown_after(report.suffix or ""),
        prefix=report.prefix or "", suffix=report.suffix or "",
        readers=report.submission_count, reason=reason, count=count or report.submission_count,
        dashboard_url=report_link(report.id), status=report.status, lang=report.lang or "",
        section=report.article_section or "", author=report.article_author or "",
        created_at=report.created_at, suggestions=suggestions, comments=comments,
        kinds=report.kind_counts, kinds_shown=report.kinds_shown)


def report_facts(report, reason="new", count=None):
    return _facts(report, reason, count, suggestions_of(report.id), comments_for([report.id]).get(report.id, []))


def facts_of(items):
    """The facts of each ``DeliveryItem``'s report, in their order, in a few queries for them
    all: the reports with their sites, their suggestions, their comments."""
    ids = [item.report_id for item in items]
    if not ids:
        return []
    reports = {report.id: report for report in db.session.scalars(
        sa.select(Report).where(Report.id.in_(ids)).options(so.selectinload(Report.site)))}
    suggestions, comments = suggestions_for(ids), comments_for(ids)
    return [_facts(reports[item.report_id], item.reason, item.count, suggestions.get(item.report_id, []),
                   comments.get(item.report_id, []))
            for item in items if item.report_id in reports]


def delivery_facts(delivery):
    """The facts of each report a delivery is about, in the order they joined it."""
    return facts_of(delivery.items)


def _render(name, **context):
    """A template's text and the ``subject`` it sets (``{% set subject %}``)."""
    module = current_app.jinja_env.get_template(name).make_module(context)
    return str(module).strip() + "\n", " ".join(str(getattr(module, "subject", "")).split())


def _email(name, language=None, **context):
    """``language``: the recipient editor's (None: English, the desk's first language)."""
    with force_locale(language or "en"):
        text, subject = _render(f"mail/{name}.txt", **context)
        html, _ = _render(f"mail/{name}.html", **context)
    return Email(subject=subject, text=text, html=html)


def _language_of(delivery):
    """The language of the editor a delivery is for; None for a plain address."""
    editor = db.session.get(Editor, delivery.editor_id) if delivery.editor_id else None
    return editor.language if editor else None


def email_for(delivery):
    """The email an editor or address gets for a delivery: one report, or a digest listing
    its first ``DIGEST_SHOWN`` reports and how many more there are."""
    language = _language_of(delivery)
    with force_locale(language or "en"):  # the facts' own words too ("typo ×3")
        if delivery.kind == "digest":
            items = delivery.items
            facts = facts_of(items[:DIGEST_SHOWN])
            return _email("digest", language, site_name=delivery.site.name, reports=facts, total=len(items),
                          more=len(items) - len(facts), dashboard_url=desk_link("dashboard.reports"))
        if delivery.kind == "assigned":
            return assigned_email(delivery)
        return _email("report", language, report=delivery_facts(delivery)[0])


def assigned_email(delivery):
    """The email telling an editor a report is theirs now, and who gave it to them (the
    latest assignment to them in the report's history)."""
    facts = delivery_facts(delivery)[0]
    by = db.session.scalar(
        sa.select(Editor).join(Event, Event.editor_id == Editor.id)
        .where(Event.report_id == facts.id, Event.kind == "assignee", Event.to_value == str(delivery.editor_id))
        .order_by(Event.id.desc()).limit(1))
    return _email("assigned", _language_of(delivery), report=facts, assigned_by=by.display_name if by else "")


def test_email(site):
    return _email("test", site_name=site.name, dashboard_url=desk_address())


# --- The reader's thank-you ---

def thanks_language(lang):
    primary = (lang or "").split("-")[0].lower()
    return primary if primary in THANKS_LANGUAGES else "en"


def agreed_suggestion(report_id):
    """The suggestion most readers made on the report, if at least ``AGREED_READERS`` made
    it; else "". What a thank-you may quote."""
    made = suggestions_of(report_id, limit=1)
    return made[0][0] if made and made[0][1] >= AGREED_READERS else ""


def corrected_sentence(report, suggestion):
    """The reported sentence as it should read: the context within the sentence around
    ``suggestion``. Answers (sentence, whether it is whole at its start, at its end)."""
    prefix, suffix = report.prefix or "", report.suffix or ""
    start = fragments.after_last_sentence_end(prefix)
    end = fragments.through_first_sentence_end(suffix)
    sentence = " ".join(f"{start.lstrip()}{suggestion}{end}".split())
    # Whole where a sentence ends in the context, or where the context itself was empty.
    return sentence, start != prefix or not prefix, end != suffix or not suffix


def reader_thanks_email(submission):
    """The thank-you to the reader of ``submission``: the same for every reader of the
    report, quoting the agreed correction (``agreed_suggestion``) or none, never anything
    one reader wrote."""
    report = submission.report
    language = thanks_language(report.lang or report.site.language)
    agreed = agreed_suggestion(report.id)
    sentence, starts, ends = corrected_sentence(report, agreed) if agreed else ("", True, True)
    return _email(f"reader_thanks.{language}", site_name=report.site.name, title=report.title or "",
                  sentence=sentence, whole_start=starts, whole_end=ends,
                  page_url=report.page_url if report.site.has_page(report.page_url) else None)


# --- Chats and webhooks ---

def mrkdwn(text):
    """Reader text for Slack: only &, < and > need escaping there."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text, most):
    """``text`` cut to at most ``most`` characters, "…" where it was cut."""
    text = " ".join(str(text).split()) if "\n" in str(text) else str(text)
    return text if len(text) <= most else text[:max(most - 1, 0)].rstrip() + "…"


def _cut(facts, cut):
    """``facts`` with reader-written fields cut as ``cut`` (one of ``CHAT_CUTS``) says."""
    shown_suggestions, suggestion_length = cut["suggestions"]
    shown_comments, comment_length = cut["comments"]
    return replace(
        facts, title=_short(facts.title, cut["title"]), exact=_short(facts.exact, cut["exact"]),
        before=facts.before if cut["context"] else "", after=facts.after if cut["context"] else "",
        page_link=facts.page_link if cut["link"] else None,
        page_url=facts.page_url if cut["link"] else _short(facts.page_url, 200),
        suggestions=[(_short(text, suggestion_length), readers)
                     for text, readers in facts.suggestions[:shown_suggestions]],
        comments=[_short(comment, comment_length) for comment in facts.comments[:shown_comments]])


def _fitted(template, reports, most, **context):
    """The chat message for ``reports``, at most ``most`` characters as rendered (escapes
    and markup counted, so the receiver's own count, after parsing, is never more): the
    fullest of ``CHAT_CUTS`` that fits; should even the shortest not, the last reports are
    left out and counted ("and 3 more")."""
    shown = list(reports)
    while True:
        for cut in CHAT_CUTS:
            text, _ = _render(template, reports=[_cut(facts, cut) for facts in shown],
                              more=len(reports) - len(shown), **context)
            if len(text.strip()) <= most:
                return text.strip()
        if len(shown) <= 1:
            return text.strip()[:most]  # not reached: one report at the shortest cut is far shorter
        shown.pop()


def _chat_reports(delivery):
    return {"site_name": delivery.site.name, "reports": delivery_facts(delivery)}


def slack_payload(delivery=None, site=None):
    """A Slack message: a delivery's reports, or (``site``) a test."""
    if delivery is None:
        text, _ = _render("mail/slack.txt", mrkdwn=mrkdwn, test=True, site_name=site.name, reports=[], more=0)
        text = text.strip()
    else:
        context = _chat_reports(delivery)
        text = _fitted("mail/slack.txt", context.pop("reports"), SLACK_TEXT_MAX, mrkdwn=mrkdwn, test=False,
                       **context)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def telegram_text(delivery=None, site=None):
    """A Telegram message (its HTML): a delivery's reports, or (``site``) a test."""
    if delivery is None:
        text, _ = _render("mail/telegram.html", test=True, site_name=site.name, reports=[], more=0)
        return text.strip()
    context = _chat_reports(delivery)
    return _fitted("mail/telegram.html", context.pop("reports"), TELEGRAM_TEXT_MAX, test=False, **context)


def iso(moment):
    return moment.replace(microsecond=0).isoformat() + "Z"


def report_data(facts):
    """A report as a webhook carries it: ``prefix`` and ``suffix`` as the reader's browser
    captured them (not cut as emails show them)."""
    return {
        "id": facts.id, "site": facts.site_name, "title": facts.title, "url": facts.page_url,
        "link": facts.page_link, "lang": facts.lang, "section": facts.section, "author": facts.author,
        "exact": facts.exact, "prefix": facts.prefix, "suffix": facts.suffix, "status": facts.status,
        "readers": facts.readers, "reason": facts.reason, "count": facts.count,
        "suggestions": [{"text": text, "readers": readers} for text, readers in facts.suggestions],
        "comments": facts.comments, "kinds": facts.kinds, "dashboard_url": facts.dashboard_url,
        "created_at": iso(facts.created_at),
    }


def webhook_payload(delivery=None, site=None):
    """``{"type", "timestamp", "data"}``: report.created (a new report), report.repeated (more
    readers sent it), or (``site``) test. Webhook deliveries are instant, one report each;
    should one carry several, ``data.reports`` lists them."""
    now = iso(utcnow())
    if delivery is None:
        return {"type": "test", "timestamp": now, "data": {"site": site.name}}
    facts = delivery_facts(delivery)
    kind = "report.created" if any(f.reason == "new" for f in facts) else "report.repeated"
    data = report_data(facts[0]) if len(facts) == 1 else {"reports": [report_data(f) for f in facts]}
    return {"type": kind, "timestamp": now, "data": data}
