"""Text search in the dashboard: one place builds the condition (issue 10 brings FTS)."""

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles


class casefold(sa.sql.functions.GenericFunction):
    """Text folded for caseless matching in every script. SQLite's own lower() and LIKE fold
    ASCII only, so on SQLite this is Python's str.casefold, registered on connect (db.py)."""

    type = sa.Text()
    inherit_cache = True


@compiles(casefold, "postgresql")
def _postgresql_casefold(element, compiler, **kw):
    # lower() folds every script only under a UTF-8 ctype (C.UTF-8 too; the README asks for one).
    return f"lower({compiler.process(element.clauses, **kw)})"


def sqlite_casefold(text):
    return None if text is None else text.casefold()


def text_matches(needle, *columns):
    """Any of the columns contains the needle, ignoring case; % and _ are plain characters."""
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    folded = casefold(sa.literal(escaped, sa.Text()))
    return sa.or_(*(casefold(column).contains(folded, escape="/") for column in columns))
