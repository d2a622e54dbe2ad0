"""Upgrading a desk that already has data: what each migration does to existing rows."""

import sqlalchemy as sa

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
