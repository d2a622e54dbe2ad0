"""full-text search over reports, their comments and suggestions

One search row per report, made and kept current by triggers on report and submission, so
intake needs no code of its own for it and cannot forget it. SQLite: an FTS5 table
(rowid = report id). PostgreSQL: tsvectors with a GIN index, folded by copydesk_fold(), a
plain SQL function (no extension needed, so no superuser either).

A later migration that rebuilds the report or submission table on SQLite (batch mode copies
the table) drops these triggers with it and must make them again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 12:00:00

"""
import unicodedata

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

REPORT_FIELDS = "prefix, exact, suffix, title, page_url, canonical_url, article_section, article_author"
# Readers' notes indexed per report, at most (characters): a report a whole city comments on
# keeps intake's index work small, and PostgreSQL's tsvector under its 1 MB limit.
NOTES_LIMIT = 50_000

# Frozen here, not imported from copydesk.search: databases keep the triggers this migration
# made, whatever search.py later says. search.FOLDS (the query's fold) must equal this table;
# tests/test_migrations.py checks it, and changing the folds takes a new migration.
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
# SQLite's parser takes some 30 nested calls at most: the folds go in stages of this many.
_FOLD_STAGE = 16


def sqlite_folded(columns, source="", keep=()):
    """A SELECT of these SQL expressions ({name: expression}) folded with FOLDS, and of the
    ``keep`` columns of ``source`` as they are. Built-in functions only, so the triggers work
    on any connection (the sqlite3 shell's too)."""
    items = list(FOLDS.items())
    select = f"SELECT {', '.join([*keep, *(f'{e} AS {n}' for n, e in columns.items())])} {source}"
    for start in range(0, len(items), _FOLD_STAGE):
        folded = {}
        for name in columns:
            expression = name
            for char, replacement in items[start:start + _FOLD_STAGE]:
                expression = f"replace({expression}, '{char}', '{replacement}')"
            folded[name] = expression
        kept = [name.rsplit(".", 1)[-1] for name in keep]
        select = f"SELECT {', '.join([*kept, *(f'{e} AS {n}' for n, e in folded.items())])} FROM ({select})"
    return select


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgresql_upgrade()


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("report_insert", "report_update", "report_delete", "submission_insert",
                        "submission_update", "submission_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS report_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS report_search")
    else:
        op.execute("DROP TABLE IF EXISTS report_search CASCADE")
        for function in ("report_search_rebuild(integer)", "report_search_report_changed()",
                         "report_search_submission_added()", "report_search_submissions_changed()",
                         "copydesk_fold(text)"):
            op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")


# --- SQLite ---------------------------------------------------------------------------------

# "text": the selection in its context, as the page reads, so a phrase may run across them.
FTS_COLUMNS = ("text", "title", "url", "section", "author")


def _sqlite_columns(row):
    return {"text": f"{row}.prefix || ' ' || {row}.exact || ' ' || {row}.suffix",
            "title": f"{row}.title", "url": f"{row}.page_url || ' ' || coalesce({row}.canonical_url, '')",
            "section": f"{row}.article_section", "author": f"{row}.article_author"}


def _sqlite_note(row):
    """A reader's note (comment and suggestion), folded."""
    return f"({sqlite_folded({'note': f'{row}.comment || char(10) || {row}.suggestion'})})"


def _sqlite_notes_of(report_id):
    """Each distinct note of the report's readers, folded, one per line."""
    notes = sqlite_folded({"note": "s.comment || char(10) || s.suggestion"},
                          f"FROM submission AS s WHERE s.report_id = {report_id} AND (s.comment <> '' OR s.suggestion <> '')")
    return (f"coalesce((SELECT substr(group_concat(note, char(10)) || char(10), 1, {NOTES_LIMIT}) "
            f"FROM (SELECT DISTINCT note FROM ({notes}))), '')")


def _sqlite_upgrade():
    op.execute(f"CREATE VIRTUAL TABLE report_search USING fts5({', '.join(FTS_COLUMNS)}, notes, "
               "tokenize = 'unicode61 remove_diacritics 2')")
    columns = ", ".join(FTS_COLUMNS)
    op.execute(f"""CREATE TRIGGER report_search_report_insert AFTER INSERT ON report BEGIN
        INSERT INTO report_search (rowid, {columns}, notes)
        SELECT new.id, {columns}, '' FROM ({sqlite_folded(_sqlite_columns('new'))});
        END""")
    op.execute(f"""CREATE TRIGGER report_search_report_update AFTER UPDATE OF {REPORT_FIELDS} ON report BEGIN
        UPDATE report_search SET ({columns}) = ({sqlite_folded(_sqlite_columns('new'))}) WHERE rowid = new.id;
        END""")
    op.execute("""CREATE TRIGGER report_search_report_delete AFTER DELETE ON report BEGIN
        DELETE FROM report_search WHERE rowid = old.id;
        END""")
    # A note already there (the same words again) changes nothing: a popular report's repeats
    # cost intake no index work.
    note = _sqlite_note("new")
    op.execute(f"""CREATE TRIGGER report_search_submission_insert AFTER INSERT ON submission
        WHEN new.comment <> '' OR new.suggestion <> '' BEGIN
        UPDATE report_search SET notes = notes || {note} || char(10)
        WHERE rowid = new.report_id AND length(notes) < {NOTES_LIMIT}
          AND instr(char(10) || notes, char(10) || {note} || char(10)) = 0;
        END""")
    for event, row in (("update", "new"), ("delete", "old")):
        when = ("AFTER UPDATE OF comment, suggestion ON submission" if event == "update"
                else "AFTER DELETE ON submission WHEN old.comment <> '' OR old.suggestion <> ''")
        op.execute(f"""CREATE TRIGGER report_search_submission_{event} {when} BEGIN
            UPDATE report_search SET notes = {_sqlite_notes_of(f'{row}.report_id')} WHERE rowid = {row}.report_id;
            END""")
    op.execute(f"INSERT INTO report_search (rowid, {columns}, notes) "
               f"SELECT r.id, {columns}, {_sqlite_notes_of('r.id')} "
               f"FROM ({sqlite_folded(_sqlite_columns('report'), 'FROM report', keep=['report.id'])}) AS r")


# --- PostgreSQL -----------------------------------------------------------------------------

def _sql_string(text):
    return "'" + text.replace("'", "''") + "'"


def _postgresql_upgrade():
    singles = {char: to for char, to in FOLDS.items() if len(to) == 1 and char == char.lower()}
    dropped = "".join(char for char, to in FOLDS.items() if not to)
    # Accents come off as the combining marks NFD splits them into, except on the Cyrillic
    # letters that are letters of their own (й, ї, ў): ё alone folds, as on SQLite.
    decomposed = "normalize(lower(t), NFD)"
    for letter in "йїў":
        base, mark = unicodedata.normalize("NFD", letter)
        decomposed = f"replace({decomposed}, {_sql_string(base + mark)}, {_sql_string(letter)})"
    unmarked = f"regexp_replace({decomposed}, '[{chr(0x300)}-{chr(0x36f)}]+', '', 'g')"
    for char, to in FOLDS.items():
        if len(to) > 1 and char == char.lower():
            unmarked = f"replace({unmarked}, {_sql_string(char)}, {_sql_string(to)})"
    # Folded to lower-case letters and digits of any script, words apart by one space.
    op.execute(f"""CREATE FUNCTION copydesk_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT regexp_replace(translate({unmarked}, {_sql_string(''.join(singles) + dropped)},
                                        {_sql_string(''.join(singles.values()))}), '[^[:alnum:]]+', ' ', 'g') $$""")
    op.execute("""CREATE TABLE report_search (
        report_id integer PRIMARY KEY REFERENCES report (id) ON DELETE CASCADE,
        notes text NOT NULL,
        document tsvector NOT NULL, title tsvector NOT NULL, url tsvector NOT NULL,
        section tsvector NOT NULL, author tsvector NOT NULL)""")
    op.execute("CREATE INDEX ix_report_search_fts ON report_search USING gin (document, title, url, section, author)")

    def vector(text):
        return f"to_tsvector('simple', copydesk_fold({text}))"

    # notes: "|" and each distinct folded note followed by "|".
    # PL/pgSQL, not SQL: its plan is kept between calls (a SQL function is planned on every call).
    op.execute(f"""CREATE FUNCTION report_search_rebuild(integer) RETURNS void LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO report_search (report_id, notes, document, title, url, section, author)
        SELECT r.id, n.notes,
               {vector(f"concat_ws(' ', {', '.join(f'r.{c}' for c in REPORT_FIELDS.split(', '))})")}
                   || to_tsvector('simple', n.notes),
               {vector('r.title')}, {vector("concat_ws(' ', r.page_url, r.canonical_url)")},
               {vector('r.article_section')}, {vector('r.article_author')}
        FROM report AS r, LATERAL (
            SELECT left('|' || coalesce(string_agg(d.note || '|', ''), ''), {NOTES_LIMIT}) AS notes FROM (
                SELECT DISTINCT trim(copydesk_fold(s.comment || ' ' || s.suggestion)) AS note
                FROM submission AS s WHERE s.report_id = r.id) AS d WHERE d.note <> '') AS n
        WHERE r.id = $1
        ON CONFLICT (report_id) DO UPDATE SET notes = excluded.notes, document = excluded.document,
            title = excluded.title, url = excluded.url, section = excluded.section, author = excluded.author;
        END $$""")
    op.execute("""CREATE FUNCTION report_search_report_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM report_search_rebuild(NEW.id); RETURN NULL; END $$""")
    # A report being deleted drops its row first (search.forget): no rebuild per submission then.
    op.execute("""CREATE FUNCTION report_search_submissions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM report_search WHERE report_id = OLD.report_id) THEN
                PERFORM report_search_rebuild(OLD.report_id);
            END IF;
            RETURN NULL;
        END $$""")
    # A note already there changes nothing: a popular report's repeats cost no index work.
    op.execute(f"""CREATE FUNCTION report_search_submission_added() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE note text := trim(copydesk_fold(NEW.comment || ' ' || NEW.suggestion));
        BEGIN
            IF note <> '' THEN
                UPDATE report_search SET notes = notes || note || '|',
                                         document = document || to_tsvector('simple', note)
                WHERE report_id = NEW.report_id AND length(notes) < {NOTES_LIMIT}
                  AND position('|' || note || '|' IN notes) = 0;
            END IF;
            RETURN NULL;
        END $$""")
    fields = REPORT_FIELDS.split(", ")
    old, new = (", ".join(f"{row}.{c}" for c in fields) for row in ("OLD", "NEW"))
    op.execute("CREATE TRIGGER report_search_report_insert AFTER INSERT ON report "
               "FOR EACH ROW EXECUTE FUNCTION report_search_report_changed()")
    op.execute(f"CREATE TRIGGER report_search_report_update AFTER UPDATE OF {REPORT_FIELDS} ON report "
               f"FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new})) EXECUTE FUNCTION report_search_report_changed()")
    op.execute("CREATE TRIGGER report_search_submission_insert AFTER INSERT ON submission "
               "FOR EACH ROW WHEN (NEW.comment <> '' OR NEW.suggestion <> '') "
               "EXECUTE FUNCTION report_search_submission_added()")
    op.execute("CREATE TRIGGER report_search_submission_update AFTER UPDATE OF comment, suggestion ON submission "
               "FOR EACH ROW WHEN ((OLD.comment, OLD.suggestion) IS DISTINCT FROM (NEW.comment, NEW.suggestion)) "
               "EXECUTE FUNCTION report_search_submissions_changed()")
    op.execute("CREATE TRIGGER report_search_submission_delete AFTER DELETE ON submission "
               "FOR EACH ROW WHEN (OLD.comment <> '' OR OLD.suggestion <> '') "
               "EXECUTE FUNCTION report_search_submissions_changed()")
    op.execute("SELECT report_search_rebuild(id) FROM report")
