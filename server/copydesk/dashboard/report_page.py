"""A report's own page: the words in their sentence, the readers' suggestions counted and
shown as corrections, one timeline of what happened, and the submissions numbered from
the first reader."""

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from flask import render_template
from flask_login import login_required

from .. import checks, fragments
from ..db import db
from ..models import Editor, Event, Report, Submission
from . import ID, bp, can_see_site, report_or_404, scoped
from .moderation import assignable_editors

SUBMISSIONS_SHOWN = 100
# Distinct suggestions shown, most common first; more are rare and read as noise.
SUGGESTIONS_SHOWN = 20
DUPLICATES_SHOWN = 100


@dataclass(frozen=True)
class Suggestion:
    text: str
    readers: int


def suggestion_key(text):
    """Suggestions count as one when they differ only in whitespace. Case is kept: a
    capital letter is often the correction itself (paris → Paris)."""
    return " ".join(text.split())


def suggestions(report):
    """The readers' suggested corrections, identical ones counted together, most common
    first (then alphabetically, so the order is stable)."""
    grouped = db.session.execute(
        sa.select(Submission.suggestion, sa.func.count()).where(
            # The empty string inline: the partial index on suggestions is used only then.
            Submission.report_id == report.id, Submission.suggestion != sa.literal_column("''"))
        .group_by(Submission.suggestion)).all()
    counts = Counter()
    for text, readers in grouped:
        if key := suggestion_key(text):
            counts[key] += readers
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Suggestion(text, readers) for text, readers in ranked[:SUGGESTIONS_SHOWN]]


def sentence_around(report):
    """The rest of the sentence before and after the reported words, where a suggestion
    is shown in place."""
    return (fragments.after_last_sentence_end(report.prefix or "").lstrip(),
            fragments.through_first_sentence_end(report.suffix or "").rstrip())


@dataclass(frozen=True)
class Moment:
    """One line of the timeline: the first report (``event`` None) or an event."""
    at: object
    event: Event | None = None


def timeline(report):
    """The report filed, then each event (status, resolution, assignee, duplicate, page
    check, note) in the order they happened: their ids' order, since the events of one
    transaction share a moment and a page check's is when the page was read."""
    events = db.session.scalars(report.events.select().order_by(Event.id)).all()
    return [Moment(report.created_at)] + [Moment(event.created_at, event) for event in events]


def editor_names(events):
    """Display names of the editors an "assignee" event names (its values are editor ids)."""
    ids = {int(value) for event in events if event and event.kind == "assignee"
           for value in (event.from_value, event.to_value) if value and value.isdigit()}
    if not ids:
        return {}
    return {str(editor.id): editor.display_name
            for editor in db.session.scalars(sa.select(Editor).where(Editor.id.in_(ids)))}


def latest_submissions(report):
    """The latest SUBMISSIONS_SHOWN submissions, oldest of them first, each with its number
    counted from the first reader's (#1); and how many there are in all (the report's own
    count, which intake and erasing keep: counting 90,000 rows again costs 15 ms)."""
    total = report.submission_count
    latest = db.session.scalars(
        report.submissions.select().order_by(Submission.id.desc()).limit(SUBMISSIONS_SHOWN)).all()
    first_number = max(total - len(latest), 0) + 1
    return [(first_number + index, submission) for index, submission in enumerate(reversed(latest))], total


@bp.get(f"/reports/<{ID}:report_id>")
@login_required
def report(report_id):
    item = report_or_404(report_id)
    numbered, total = latest_submissions(item)
    moments = timeline(item)
    later = db.session.scalars(sa.select(Report).where(Report.previous_report_id == item.id)).all()
    duplicates = db.session.scalars(scoped(sa.select(Report).where(Report.duplicate_of_id == item.id))
                                    .order_by(Report.id).limit(DUPLICATES_SHOWN + 1)).all()
    duplicate_of = item.duplicate_of if item.duplicate_of and can_see_site(item.duplicate_of.site_id) else None
    check = db.session.get(checks.PageCheck, item.id)
    return render_template("dashboard/report.html", report=item, submissions=numbered, submission_total=total,
                           shown=SUBMISSIONS_SHOWN, timeline=moments,
                           editor_names=editor_names(moment.event for moment in moments),
                           suggestions=suggestions(item), sentence=sentence_around(item),
                           later_reports=later, duplicate_of=duplicate_of,
                           duplicates=duplicates[:DUPLICATES_SHOWN], more_duplicates=len(duplicates) > DUPLICATES_SHOWN,
                           assignable_editors=assignable_editors(item), check=check, check_queued=db.session.get(checks.CheckRequest, item.id) is not None,
                           still_there_after_fix=checks.still_there_after_fix(item, check))
