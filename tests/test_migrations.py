"""Upgrading a desk that already has data: what each migration does to existing rows."""

import ast
import importlib.util
import sqlite3
from pathlib import Path

import sqlalchemy as sa

import copydesk

from copydesk.db import db
from copydesk.models import Report, Site


def test_upgrade_to_notifications_announces_no_old_report_and_routes_old_sites_to_everyone(tmp_path):
    """0005: sites that existed start like a new site (everyone hears them, in their own mode);
    reports filed before notifications existed are not announced all at once."""
    from flask_migrate import upgrade

    from copydesk import create_app
    from copydesk.notify.models import Rule
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}", "TESTING": True,
                      "SECRET_KEY": "a-test-secret-that-is-long-enough-0123456789"})
    with app.app_context():
        upgrade(revision="0004")
        db.session.execute(sa.text(
            "INSERT INTO site (id, name, name_key, key, allowed_origins_json, language, max_selection, "
            "created_at) VALUES (7, 'Daily', 'daily', 'key-7', '[]', 'en', 300, '2026-01-01')"))
        db.session.execute(sa.text(
            "INSERT INTO report (site_id, group_key, anchor_key, page_url, page_key, title, lang, article_id, "
            "article_section, article_author, article_published, exact, prefix, suffix, status, "
            "submission_count, created_at, updated_at, last_submitted_at) VALUES (7, 'g', 'g', "
            "'https://a.example/x', 'https://a.example/x', '', '', '', '', '', '', 'teh', '', '', 'new', 3, "
            "'2026-01-01', '2026-01-01', '2026-01-01')"))
        db.session.commit()
        upgrade()
        assert db.session.execute(sa.select(Rule.site_id, Rule.recipient, Rule.match_field)).all() == [
            (7, "everyone", "")]
        # Counted as announced at its readers so far: its next milestone reads as a repeat.
        assert db.session.execute(sa.select(Report.notify_due, Report.announced_count)).all() == [(False, 3)]
        from copydesk.notify import deliveries
        from copydesk.notify.models import DeliveryItem
        db.session.execute(sa.update(Report).values(submission_count=5, notify_due=True))
        db.session.add(Rule(site_id=7, recipient="email", target="desk@example.com", mode="instant"))
        db.session.commit()
        assert deliveries.plan() == 1
        assert db.session.execute(sa.select(DeliveryItem.reason, DeliveryItem.count)).all() == [("repeat", 5)]
        assert db.session.execute(sa.select(Site.reader_followup)).all() == [(False,)]
        db.engine.dispose()


def test_upgrade_rebuilds_tables_that_other_rows_point_at(tmp_path):
    """SQLite rebuilds a table to alter it (0004 rebuilds `site`): with reports and their
    submissions pointing at the site, the upgrade must keep every row and every link."""
    from flask_migrate import upgrade

    from copydesk import create_app
    from copydesk.models import Submission
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}", "TESTING": True,
                      "SECRET_KEY": "a-test-secret-that-is-long-enough-0123456789"})
    with app.app_context():
        upgrade(revision="0003")
        db.session.execute(sa.text(
            "INSERT INTO site (id, name, key, allowed_origins_json, language, max_selection, notify_emails, "
            "created_at) VALUES (7, 'Daily', 'key-7', '[]', 'en', 300, '', '2026-01-01')"))
        db.session.execute(sa.text(
            "INSERT INTO report (id, site_id, group_key, anchor_key, page_url, page_key, title, lang, article_id, "
            "article_section, article_author, article_published, exact, prefix, suffix, status, "
            "submission_count, created_at, updated_at, last_submitted_at) VALUES (5, 7, 'g', 'g', "
            "'https://a.example/x', 'https://a.example/x', '', '', '', '', '', '', 'teh', '', '', 'new', 1, "
            "'2026-01-01', '2026-01-01', '2026-01-01')"))
        db.session.execute(sa.text(
            "INSERT INTO submission (report_id, site_id, idempotency_key, joined, comment, suggestion, created_at) "
            "VALUES (5, 7, 'reader-key-0001', 0, '', 'the', '2026-01-01')"))
        db.session.commit()
        upgrade()
        assert db.session.execute(sa.select(Report.id, Report.site_id)).all() == [(5, 7)]
        assert db.session.execute(sa.select(Submission.report_id, Submission.suggestion)).all() == [(5, "the")]
        assert db.session.execute(sa.select(Site.id, Site.name_key)).all() == [(7, "daily")]
        assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()


def test_upgrade_to_search_indexes_existing_reports_and_notes_and_downgrade_drops_it(app):
    """0009: reports filed before search existed are found by their words and by their
    readers' notes; downgrading removes the index and its triggers, upgrading again rebuilds."""
    from flask_migrate import downgrade, upgrade

    from copydesk.search import restrict

    def found(q):
        # The list's own search path (the /reports page and its bulk actions use it).
        query = restrict(sa.select(Report.id), q, db.session.get_bind().dialect.name)
        return set(db.session.scalars(query))

    with app.app_context():
        downgrade(revision="0008")
        db.session.execute(sa.text(
            "INSERT INTO site (id, name, name_key, key, allowed_origins_json, language, max_selection, "
            "reader_followup, kinds_enabled, check_every_hours, created_at) "
            "VALUES (7, 'Daily', 'daily', 'key-7', '[]', 'en', 300, false, true, 24, '2026-01-01')"))
        db.session.execute(sa.text(
            "INSERT INTO report (id, site_id, group_key, anchor_key, page_url, page_key, title, lang, article_id, "
            "article_section, article_author, article_published, exact, prefix, suffix, status, submission_count, "
            "typo_count, fact_count, link_count, other_count, notify_due, announced_count, created_at, updated_at, "
            "last_submitted_at) VALUES (5, 7, 'g', 'g', 'https://a.example/zürich', 'x', 'Ёлка', '', '', "
            "'Politics', 'Ann Lee', '', 'teh', '', '', 'new', 1, 0, 0, 0, 0, false, 0, '2026-01-01', "
            "'2026-01-01', '2026-01-01')"))
        db.session.execute(sa.text(
            "INSERT INTO submission (report_id, site_id, idempotency_key, joined, comment, suggestion, created_at) "
            "VALUES (5, 7, 'reader-key-0001', false, 'Αθήνα', 'the', '2026-01-01')"))
        db.session.commit()
        upgrade()
        assert found("елка") == found("url:zurich") == found("αθηνα") == found("author:lee") == {5}
        db.session.commit()
        downgrade(revision="0008")
        names = set(sa.inspect(db.engine).get_table_names())
        assert not {name for name in names if name.startswith("report_search")}
        db.session.execute(sa.text("UPDATE report SET title = 'Palm' WHERE id = 5"))  # no trigger left to fail
        db.session.commit()
        upgrade()
        assert found("palm") == {5} and found("елка") == set()
        db.session.commit()


def _migration(name):
    """A migration module loaded from its file (its name starts with a digit)."""
    path = Path(copydesk.__file__).parent / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migrations_import_nothing_from_the_app():
    """A migration that imports the app's code changes what it does when that code changes,
    while databases already upgraded keep what it did before: each carries its own copy."""
    importing = []
    for path in sorted((Path(copydesk.__file__).parent / "migrations" / "versions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            importing += [(path.name, name) for name in names if name.split(".")[0] == "copydesk"]
    assert importing == []


def test_search_folds_the_query_as_migration_0009_folds_the_index():
    """The triggers of 0009 fold the indexed text with the migration's frozen table, the
    search folds the query with search.FOLDS: if they part, words stop being found. Changing
    the folds takes a new migration that remakes the triggers, and this table with it."""
    from copydesk import search
    migration = _migration("0009_search")
    assert search.FOLDS == migration.FOLDS
    text = "".join(f"{char}x" for char in search.FOLDS) + " Ёлка Straße Αθήνα"
    connection = sqlite3.connect(":memory:")
    folded = connection.execute(migration.sqlite_folded({"t": "?"}), (text,)).fetchone()[0]
    connection.close()
    assert folded == search.fold(text)
