"""The report list's current filter as a file: CSV (for spreadsheets) or JSON Lines (for
scripts), streamed in keyset batches so memory stays flat however many reports match.

One row per report. What readers suggested is aggregated into one field of the row (the
most proposed corrections with their counts), not a second file of submissions: an export
stays one flat table a spreadsheet opens, and submissions carry what the desk never hands
out (reader addresses, ip hashes, user agents)."""

import csv
import io
import json
import re
from datetime import datetime, timezone

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Response, request, stream_with_context
from flask_login import login_required

from ..checks import PageCheck
from ..db import db
from ..models import KINDS, Editor, Report, Site, Submission
from . import bp
from .reports import _filters_of, filtered_reports, id_key

# Reports per query: big enough that round trips do not dominate, small enough to hold.
BATCH = 1000
# Most proposed corrections kept per report: a flood of distinct ones must not grow a row.
TOP_SUGGESTIONS = 10
# The first characters a spreadsheet reads as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The columns, in file order; CSV header and JSON keys alike (machine names, not translated:
# scripts read them).
FIELDS = ("id", "site", "status", "resolution", "page_url", "canonical_url", "title", "lang",
          "article_id", "article_section", "article_author", "article_published",
          "exact", "prefix", "suffix", *(f"{kind}_count" for kind in KINDS), "submission_count",
          "suggestions", "comment_count", "assignee", "duplicate_of", "previous_report",
          "created_at", "last_submitted_at", "check_state", "checked_at")

_Assignee = so.aliased(Editor)
COLUMNS = (Report.id, Site.name, Report.status, Report.resolution, Report.page_url, Report.canonical_url,
           Report.title, Report.lang, Report.article_id, Report.article_section, Report.article_author,
           Report.article_published, Report.exact, Report.prefix, Report.suffix,
           *(Report.kind_count(kind) for kind in KINDS), Report.submission_count,
           _Assignee.email, Report.duplicate_of_id, Report.previous_report_id,
           Report.created_at, Report.last_submitted_at, PageCheck.state, PageCheck.checked_at)


# Where the two fields from submissions go in a row, and which fields are times.
SUBMISSIONS_AT = FIELDS.index("suggestions")
TIMES = tuple(FIELDS.index(name) for name in ("created_at", "last_submitted_at", "checked_at"))


def csv_cells(values):
    """A row's cells as a spreadsheet must see them: a cell starting with a formula
    character gets a leading apostrophe (OWASP), so it shows as text and never runs;
    None is an empty cell."""
    return ["" if value is None else "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS)
            else value for value in values]


def _rows_query(query, key):
    """The filter's query with what a row shows joined in (one query a batch, no N+1), in
    the order of ``key``, the list's id column (``id_key``): on SQLite a search's is the
    full-text index's own, which hands a batch over without gathering every match first."""
    return (query.join(Site, Site.id == Report.site_id)
            .outerjoin(_Assignee, _Assignee.id == Report.assignee_id)
            .outerjoin(PageCheck, PageCheck.report_id == Report.id)
            .with_only_columns(*COLUMNS).order_by(key).limit(BATCH))


def _suggestions(report_ids):
    """{report_id: [{suggestion: readers}, readers who commented]} for a batch."""
    found = {report_id: [{}, 0] for report_id in report_ids}
    ranked = (sa.select(Submission.report_id, Submission.suggestion, sa.func.count().label("readers"),
                        sa.func.row_number().over(partition_by=Submission.report_id,
                                                  order_by=(sa.func.count().desc(), Submission.suggestion))
                        .label("rank"))
              .where(Submission.report_id.in_(report_ids), Submission.suggestion != "")
              .group_by(Submission.report_id, Submission.suggestion).subquery())
    for report_id, suggestion, readers in db.session.execute(
            sa.select(ranked.c.report_id, ranked.c.suggestion, ranked.c.readers)
            .where(ranked.c.rank <= TOP_SUGGESTIONS).order_by(ranked.c.report_id, ranked.c.rank)):
        found[report_id][0][suggestion] = readers
    comments = sa.select(Submission.report_id, sa.func.count()).where(
        Submission.report_id.in_(report_ids), Submission.comment != "").group_by(Submission.report_id)
    for report_id, count in db.session.execute(comments):
        found[report_id][1] = count
    return found


def report_rows(query, key):
    """Each report of ``query`` (a ``filtered_reports`` query; ``key``: its ``id_key``) as a
    list of FIELDS' values, in report number order, fetched BATCH at a time: keyset (id > last), never OFFSET, so
    the millionth row costs what the first does, and only one batch is held at a time.
    Keyset rather than a server-side cursor (``stream_results``): the same on SQLite and
    PostgreSQL, and no cursor nor transaction stays open while a slow client downloads."""
    last = 0
    while True:
        batch = db.session.execute(_rows_query(query, key).where(key > last)).all()
        if not batch:
            return
        extra = _suggestions([row[0] for row in batch])
        # Ends the read transaction: no snapshot (nor SQLite's WAL) held while the client reads.
        db.session.rollback()
        for row in batch:
            values = list(row)
            values[SUBMISSIONS_AT:SUBMISSIONS_AT] = extra[row[0]]
            for at in TIMES:
                if values[at] is not None:  # stored as naive UTC
                    values[at] = values[at].isoformat(timespec="seconds") + "Z"
            yield values
        last = batch[-1][0]
        del batch, extra


def csv_chunks(rows):
    """UTF-8 with a BOM (so spreadsheets read it as UTF-8), a header, then a chunk per batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    yield "\ufeff".encode() + _drain(buffer)
    for n, values in enumerate(rows, 1):
        suggestions = values[SUBMISSIONS_AT]
        values[SUBMISSIONS_AT] = json.dumps(suggestions, ensure_ascii=False) if suggestions else ""
        writer.writerow(csv_cells(values))
        if n % BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def jsonl_chunks(rows):
    """One JSON object a line; the values as stored (no neutralising: this is data)."""
    lines = []
    for n, values in enumerate(rows, 1):
        lines.append(json.dumps(dict(zip(FIELDS, values)), ensure_ascii=False))
        if n % BATCH == 0:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def _drain(buffer):
    chunk = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return chunk


FORMATS = {"csv": (csv_chunks, "text/csv; charset=utf-8"),
           "jsonl": (jsonl_chunks, "application/jsonl; charset=utf-8")}


def file_name(link_args, extension):
    """copydesk-reports-2026-11-26-site-3-status-all.csv: the day and the filter, in ASCII."""
    parts = ["copydesk-reports", datetime.now(timezone.utc).date().isoformat()]
    for name in sorted(link_args):
        parts += [name, re.sub(r"[^A-Za-z0-9]+", "-", str(link_args[name])).strip("-") or "x"]
    return "-".join(parts)[:150] + "." + extension


def _export(extension):
    filters, link_args = _filters_of(request.args)
    # Built now, in the request: the filter and the editor's sites are fixed before streaming.
    query = filtered_reports(filters)
    chunks, mimetype = FORMATS[extension]
    response = Response(stream_with_context(chunks(report_rows(query, id_key(filters)))), content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name(link_args, extension)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports/export.csv")
@login_required
def reports_export_csv():
    return _export("csv")


@bp.get("/reports/export.jsonl")
@login_required
def reports_export_jsonl():
    return _export("jsonl")
