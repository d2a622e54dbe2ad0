"""Search in the dashboard: the editors' query language, read into the databases' own
full-text indexes. Migration 0009 makes the index (SQLite FTS5, PostgreSQL tsvector + GIN)
and the triggers that keep it current as reports and submissions are written.

A query is words (all must match, in any order, in any field), "a phrase", prefix* and
field filters (url:, title:, author:, section:), all combined with AND.
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

# A query word in a field: "url:example.com" searches the page's URL only.
FIELDS = ("url", "title", "author", "section")
MAX_TERMS = 12
MAX_TOKENS = 32
# A letter or digit of any script, and the marks that ride on letters (Arabic vowel signs).
_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
TOKEN = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
_TERM = re.compile(r'(?:(?P<field>[^\W\d_]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')

# Folds that neither SQLite's unicode61 tokenizer (case, Latin accents) nor PostgreSQL's
# copydesk_fold() before them (case, every accent NFD splits off) make: applied to the query
# here and to the indexed text by the triggers, with migration 0009's frozen copy of this
# table (a test keeps the two equal; a change here takes a migration that remakes them).
FOLDS = {
    "ё": "е", "Ё": "Е",
    "ά": "α", "έ": "ε", "ή": "η", "ί": "ι", "ό": "ο", "ύ": "υ", "ώ": "ω", "ϊ": "ι", "ϋ": "υ",
    "ΐ": "ι", "ΰ": "υ", "Ά": "Α", "Έ": "Ε", "Ή": "Η", "Ί": "Ι", "Ό": "Ο", "Ύ": "Υ", "Ώ": "Ω",
    "Ϊ": "Ι", "Ϋ": "Υ", "ς": "σ",
    "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ı": "i",
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    # Arabic vowel signs and the tatweel: written or not, the same word.
    **{chr(code): "" for code in [*range(0x064B, 0x0653), 0x0670, 0x0640]},
}


_FOLD_TABLE = str.maketrans(FOLDS)


def fold(text):
    """The query text folded as migration 0009's SQLite triggers fold the indexed text."""
    return text.translate(_FOLD_TABLE)


class BadQuery(ValueError):
    """A search the desk cannot read; the message says why, in words for the editor."""


@dataclass(frozen=True)
class Term:
    """One thing every report found must hold: its words side by side, in one field or any."""
    words: tuple
    field: str = None
    prefix: bool = False


def parse(q):
    """The terms of a query. Lenient with quotes (one left open runs to the end) and with
    unknown fields ("foo:bar" is two words side by side); refuses a query with no word."""
    terms = []
    for match in _TERM.finditer(q):
        field, text = (match["field"] or "").casefold(), match["phrase"] if match["phrase"] is not None else match["word"]
        if field and field not in FIELDS:
            text, field = f"{match['field']} {text}", ""
        prefix = match["phrase"] is None and text.endswith("*")
        # A mark alone (an accent, an Arabic vowel sign) is no word: the index keeps none.
        words = tuple(word for word in TOKEN.findall(text) if any(char.isalnum() for char in fold(word)))
        if words:
            terms.append(Term(words, field or None, prefix))
    if not terms:
        raise BadQuery(_("Search for at least one word (letters or digits)."))
    if len(terms) > MAX_TERMS or sum(len(term.words) for term in terms) > MAX_TOKENS:
        raise BadQuery(_("Search for at most %(num)d words at a time.", num=MAX_TERMS))
    if any(term.prefix and len(term.words[-1]) < 2 for term in terms):
        raise BadQuery(_("Give at least two letters before the *."))
    return terms


# SQLite's FTS5 table, joined by rowid (= the report's id).
_FTS = sa.table("report_search", sa.column("rowid"))


def forget(report_ids):
    """Drop the search rows of the reports ``report_ids`` (a select of ids) before they and
    their submissions are deleted: each submission's delete trigger then finds no row to
    rebuild, where it would rebuild the report's notes once per submission."""
    from .db import db
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.delete(_FTS).where(_FTS.c.rowid.in_(report_ids)))
    else:
        db.session.execute(sa.delete(_SEARCH).where(_SEARCH.c.report_id.in_(report_ids)))


def key_column(dialect):
    """The column a search's reports are ordered and paged by, newest first. On SQLite it is
    the FTS5 index's rowid (the same values as Report.id): ordered by it, FTS5 hands back its
    matches newest first and stops after a page, where ordered by Report.id SQLite first
    gathers every match (a word in 200,000 reports: 337 ms against 0.3 ms)."""
    from .models import Report
    return _FTS.c.rowid if dialect == "sqlite" else Report.id


# PostgreSQL: a search with at most this many matches hands them to the list as ids.
FEW_MATCHES = 1000


def restrict(query, q, dialect):
    """``query`` (a select of Report) limited to the reports ``q`` finds; raises BadQuery.
    Order it by ``key_column``.

    On PostgreSQL the matches are first fetched, up to FEW_MATCHES + 1 of them. The planner
    cannot tell a rare word from a common one: it guesses 0.5% of the reports for any word
    outside its statistics, and then walks the list's index newest first, testing every
    report, to find a page of a word that is in one report (70 ms at 200,000 reports). Given
    the few ids instead, it reads just those; given more than FEW_MATCHES (a common word),
    the index walk is the right plan and fills a page at once."""
    from .models import Report
    terms = parse(q)
    if dialect != "sqlite":
        matches = _postgresql_matches(terms)
        ids = _few_matches(matches)
        return query.where(Report.id.in_(matches if ids is None else ids))
    match = sa.literal_column("report_search").op("MATCH")(sa.literal(fold(fts5_query(terms)), sa.Text()))
    return query.join(_FTS, _FTS.c.rowid == Report.id).where(match)


def _few_matches(matches):
    """The ids ``matches`` selects if there are at most FEW_MATCHES of them, else None."""
    from .db import db
    ids = db.session.scalars(matches.limit(FEW_MATCHES + 1)).all()
    return ids if len(ids) <= FEW_MATCHES else None


# SQLite: one FTS5 row per report (rowid = report id); columns as migration 0009 makes them.
_FTS_COLUMNS = {None: None, "url": "url", "title": "title", "author": "author", "section": "section"}


def fts5_query(terms):
    """The FTS5 query for the terms, every word quoted by us: no FTS5 syntax from the editor."""
    parts = []
    for term in terms:
        column = _FTS_COLUMNS[term.field]
        part = '"' + " ".join(term.words) + '"' + (" *" if term.prefix else "")
        parts.append(f"{column} : {part}" if column else part)
    return " AND ".join(parts)


# PostgreSQL: report_search(report_id, document, title, url, section, author): tsvectors.
_SEARCH = sa.table("report_search", sa.column("report_id"), sa.column("document"), sa.column("title"),
                   sa.column("url"), sa.column("section"), sa.column("author"))
_SIMPLE = sa.literal_column("'simple'::regconfig")


def _tsquery(term):
    text = sa.func.copydesk_fold(sa.literal(" ".join(term.words), sa.Text()))
    if term.prefix:
        # copydesk_fold leaves letters, digits and spaces only: safe inside the quotes.
        return sa.func.to_tsquery(_SIMPLE, sa.literal("'", sa.Text()).concat(text).concat(sa.literal("':*", sa.Text())))
    return sa.func.phraseto_tsquery(_SIMPLE, text)


def _postgresql_matches(terms):
    """A select of the ids of the reports holding every term, each in its field's tsvector.
    Each word of a phrase is also a condition of its own: GIN then finds a rare word among
    common ones from the rare word's entry, where with the phrase alone it reads through the
    common words' entries too ("story number 123457" at 200,000 reports: 0.2 ms against 25 ms)."""
    conditions = {}
    for term in terms:
        column = _SEARCH.c[term.field or "document"]
        last = len(term.words) - 1
        for single in [Term((word,), term.field, term.prefix and i == last) for i, word in enumerate(term.words)]:
            conditions.setdefault(single, column.op("@@")(_tsquery(single)))
        if len(term.words) > 1:
            conditions.setdefault(term, column.op("@@")(_tsquery(term)))
    return sa.select(_SEARCH.c.report_id).where(*conditions.values())
