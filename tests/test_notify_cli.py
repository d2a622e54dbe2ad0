"""``copydesk notify``: rules, author contacts and tests of a site from the command line;
and the rule every new site starts with."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import rows
from copydesk.db import db
from copydesk.models import AuditEntry, Editor, Site, utcnow
from copydesk.notify.models import AuthorContact, Delivery, Preference, Rule

SLACK = "https://hooks.slack.com/services/T0000/B0000/SLACKSECRETPART1234"
TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ZY"


@pytest.fixture
def site(make_site):
    """A site (made without the CLI, so without rules) named "The Daily"; answers its key
    (a fixed one: a random key may start with "-", which reads as an option)."""
    return make_site(name="The Daily", key="daily-key-0001")


@pytest.fixture
def notify(runner):
    def run(*args):
        return runner.invoke(args=["notify", *args])
    return run


def rules_of(app):
    with app.app_context():
        return [(r.recipient, r.target, r.mode, r.match_field, r.match_value, r.editor_id)
                for r in db.session.scalars(sa.select(Rule).order_by(Rule.id))]


def test_add_email_rule_defaults_to_instant_and_is_listed(app, notify, site):
    result = notify("add", site, "email", "Desk@Example.com")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Rule 1 added: desk@example.com hears every report (instant).\n"
    assert rules_of(app) == [("email", "desk@example.com", "instant", "", "", None)]
    listed = notify("list", site)
    assert listed.stdout == "1\temail\tdesk@example.com\tevery report\tinstant\n"


@pytest.mark.parametrize("options, match", [
    (["--section", "  Politics "], ("section", "Politics")),
    (["--author", "Ann  Lee"], ("author", "Ann Lee")),
    (["--kind", "fact"], ("kind", "fact")),
])
def test_add_with_mode_and_what_it_hears(app, notify, site, options, match):
    result = notify("add", site, "email", "desk@example.com", "--mode", "hourly", *options)
    assert result.exit_code == 0, result.output
    assert rules_of(app) == [("email", "desk@example.com", "hourly", *match, None)]
    assert f"\t{match[0]} “{match[1]}”\thourly" in notify("list", site).stdout


def test_site_is_found_by_key_or_name_in_any_case(app, notify, site):
    assert notify("add", "THE DAILY", "email", "a@example.com").exit_code == 0
    assert notify("add", site, "email", "b@example.com").exit_code == 0
    assert [r[1] for r in rules_of(app)] == ["a@example.com", "b@example.com"]
    unknown = notify("list", "The Weekly")
    assert unknown.exit_code == 1
    assert unknown.stderr == "Error: No site has the key or name 'The Weekly'.\n"


def test_webhook_secret_is_printed_once_and_masked_in_the_list(app, notify, site):
    result = notify("add", site, "webhook", "https://hooks.example.com/copydesk?token=abc")
    assert result.exit_code == 0, result.output
    with app.app_context():
        secret = db.session.scalar(sa.select(Rule.secret))
    assert secret.startswith("whsec_") and len(secret) == 6 + 44
    assert result.stdout.count(secret) == 1
    listed = notify("list", site).stdout
    assert secret not in listed and secret[6:20] not in listed
    # Only the origin: a webhook's path or query often holds its own secret.
    assert listed == f"1\twebhook\thttps://hooks.example.com (secret whsec_…{secret[-4:]})\t" \
                     "every report\tinstant\n"
    assert "copydesk" not in listed and "token" not in listed
    assert "token=abc" not in listed


def test_slack_url_and_telegram_token_are_masked_in_the_list(app, notify, site):
    assert notify("add", site, "slack", SLACK).exit_code == 0
    added = notify("add", site, "telegram", "-1001234567890", "--token", TOKEN)
    assert added.exit_code == 0, added.output
    assert TOKEN not in added.output
    assert rules_of(app)[1][:2] == ("telegram", "-1001234567890")
    listed = notify("list", site).stdout
    assert "SLACKSECRETPART" not in listed and TOKEN.split(":")[1][:-3] not in listed
    assert "\tslack\thttps://hooks.slack.com/…1234\t" in listed
    assert "\ttelegram\tchat -1001234567890 (bot token 123456789:…-ZY)\t" in listed


def test_people_rules_everyone_editor_author(app, notify, site, make_editor):
    make_editor("ann@example.com", name="Ann")
    assert notify("add", site, "everyone").exit_code == 0
    assert notify("add", site, "editor", "ANN@example.com").exit_code == 0
    assert notify("add", site, "author", "--mode", "daily").exit_code == 0
    with app.app_context():
        ann = Editor.find("ann@example.com").id
    assert rules_of(app) == [("everyone", "", "instant", "", "", None), ("editor", "", "instant", "", "", ann),
                             ("author", "", "daily", "", "", None)]
    assert notify("list", site).stdout.splitlines() == [
        "1\teveryone\tevery editor\tevery report\teach editor's choice",
        "2\teditor\tann@example.com\tevery report\teach editor's choice",
        "3\tauthor\tthe article's author\tevery report\teditors: their choice; addresses: daily"]


@pytest.mark.parametrize("args, message", [
    (["email", "not-an-address"], "target: 'not-an-address' is not an email address."),
    (["email"], "target: Give an email address."),
    (["email", "a@example.com", "--section", "Politics", "--kind", "typo"],
     "section: A rule hears one of: a section, an author or a kind (or every report)."),
    (["webhook", "ftp://hooks.example.com/"], "target: 'ftp://hooks.example.com/' is not an https:// (or http://) URL"),
    (["webhook", "https://user:pw@hooks.example.com/"], "is not an https:// (or http://) URL without a user name"),
    (["slack", "hooks.slack.com/services/x"], "target: 'hooks.slack.com/services/x' is not an https://"),
    (["telegram", "my chat", "--token", TOKEN], "target: 'my chat' is not a Telegram chat id"),
    (["telegram", "@dailydesk"], "token: Give the bot's token as @BotFather shows it"),
    (["telegram", "@dailydesk", "--token", "not-a-token"], "token: Give the bot's token"),
    (["webhook", "https://hooks.example.com/", "--token", TOKEN], "token: Only a Telegram rule takes a bot token."),
    (["everyone", "someone@example.com"], "target: A rule for everyone takes no address or URL."),
    (["everyone", "--mode", "hourly"], "mode: Only email and author rules take a mode"),
    (["slack", SLACK, "--mode", "daily"], "mode: Only email and author rules take a mode"),
    (["email", "a@example.com", "--mode", "weekly"], "Invalid value for '--mode'"),
    (["pigeon", "a@example.com"], "Invalid value for '{everyone|editor|author|email|slack|telegram|webhook}'"),
    (["email", "a@example.com", "--kind", "rumour"], "Invalid value for '--kind'"),
    (["email", "a@example.com", "--section", "   "], "section: Give a name, or leave it empty for every report."),
])
def test_bad_input_is_one_clear_line_and_adds_nothing(app, notify, site, args, message):
    result = notify("add", site, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert rules_of(app) == []


def test_editor_rule_needs_a_known_editor_and_a_rule_is_added_once(app, notify, site):
    unknown = notify("add", site, "editor", "nobody@example.com")
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: No editor has the email nobody@example.com.\n")
    assert notify("add", site, "email", "desk@example.com", "--section", "Politics").exit_code == 0
    again = notify("add", site, "email", "DESK@example.com", "--section", "politics")
    assert (again.exit_code, again.stderr) == (1, "Error: The site has this rule already (rule 1).\n")
    assert len(rules_of(app)) == 1


def test_adding_an_email_rule_warns_while_smtp_is_not_set(app, notify, site):
    warning = "Warning: COPYDESK_SMTP_URL is not set, so email waits until it is; nothing is lost meanwhile.\n"
    assert notify("add", site, "email", "a@example.com").stderr == warning
    assert notify("add", site, "everyone").stderr == warning
    assert notify("add", site, "webhook", "https://hooks.example.com/").stderr == ""
    app.config["SMTP_URL"] = "smtp://127.0.0.1:2525"
    assert notify("add", site, "email", "b@example.com").stderr == ""


def _delivery(rule_id, site_id, state, kind="report"):
    return Delivery(site_id=site_id, rule_id=rule_id, channel="webhook", recipient="https://hooks.example.com/",
                    recipient_key=f"rule:{rule_id}", state=state, kind=kind)


def test_remove_cancels_the_rules_pending_deliveries_first(app, notify, site):
    notify("add", site, "webhook", "https://hooks.example.com/")
    notify("add", site, "email", "keep@example.com")
    with app.app_context():
        site_id = Site.find(site).id
        db.session.add_all([_delivery(1, site_id, "pending"), _delivery(1, site_id, "pending"),
                            _delivery(1, site_id, "sent"), _delivery(2, site_id, "pending")])
        db.session.commit()
    result = notify("remove", site, "1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Rule 1 removed; 2 pending message(s) cancelled.\n"
    assert [r[0] for r in rules_of(app)] == ["email"]
    assert rows(app, sa.select(Delivery.state, Delivery.rule_id).order_by(Delivery.id)) == [
        ("cancelled", None), ("cancelled", None), ("sent", None), ("pending", 2)]


def test_remove_refuses_another_sites_rule_or_no_rule(app, notify, site, make_site):
    other = make_site(name="The Weekly", origins=["https://weekly.example.com"], key="weekly-key-0001")
    notify("add", other, "email", "weekly@example.com")
    result = notify("remove", site, "1")
    assert result.exit_code == 1
    assert f"The site 'The Daily' has no rule 1 (see `copydesk notify list {site}`)." in result.stderr
    assert notify("remove", site, "x").exit_code == 2
    assert len(rules_of(app)) == 1


def test_rotate_secret_prints_the_new_one_once_and_the_old_still_signs_a_day(app, notify, site):
    notify("add", site, "webhook", "https://hooks.example.com/")
    with app.app_context():
        old = db.session.scalar(sa.select(Rule.secret))
    result = notify("rotate-secret", site, "1")
    assert result.exit_code == 0, result.output
    with app.app_context():
        rule = db.session.scalar(sa.select(Rule))
        new, previous, until = rule.secret, rule.previous_secret, rule.previous_secret_until
    assert new != old and previous == old
    assert abs(until - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)
    assert result.stdout.count(new) == 1 and old not in result.stdout
    assert f"until {until:%Y-%m-%d %H:%M} UTC" in result.stdout
    assert new not in notify("list", site).stdout


def test_rotate_secret_only_for_a_webhook(app, notify, site):
    notify("add", site, "email", "a@example.com")
    result = notify("rotate-secret", site, "1")
    assert (result.exit_code, result.stderr) == (1, "Error: Only a webhook rule has a signing secret.\n")


def test_author_contacts_add_replace_list_remove(app, notify, site, make_editor):
    make_editor("bea@example.com", name="Bea")
    empty = notify("authors", site)
    assert empty.stdout == "The site 'The Daily' has no author contacts.\n"
    added = notify("author", site, "Ann  Lee", "Ann@Example.com")
    assert added.exit_code == 0, added.output
    assert added.stdout == "Reports on articles by “Ann Lee” go to ann@example.com.\n"
    assert "no `author` rule on the site yet" in added.stderr
    notify("add", site, "author")
    editor = notify("author", site, "Bea Rook", "bea@example.com")
    assert editor.stdout == "Reports on articles by “Bea Rook” go to the editor bea@example.com.\n"
    assert editor.stderr == ""
    replaced = notify("author", site, "ann lee", "ann.lee@example.com")
    assert replaced.exit_code == 0
    assert notify("authors", site).stdout == "ann lee\tann.lee@example.com\nBea Rook\tbea@example.com (editor)\n"
    with app.app_context():
        contacts = db.session.execute(sa.select(AuthorContact.author_key, AuthorContact.email,
                                                AuthorContact.editor_id).order_by(AuthorContact.id)).all()
        bea = Editor.find("bea@example.com").id
    assert contacts == [("ann lee", "ann.lee@example.com", None), ("bea rook", "", bea)]
    removed = notify("author", site, "ANN LEE", "--remove")
    assert removed.stdout == "Contact for “ann lee” removed.\n"
    assert notify("authors", site).stdout == "Bea Rook\tbea@example.com (editor)\n"


@pytest.mark.parametrize("args, code, message", [
    (["Ann Lee"], 2, "Give the ADDRESS reports on this author's articles go to, or --remove."),
    (["Ann Lee", "not-an-address"], 2, "address: Not a valid email address."),
    (["  ", "ann@example.com"], 2, "author: Give the author's name as the pages declare it."),
    (["Ann Lee", "ann@example.com", "--remove"], 2, "Give either an ADDRESS or --remove."),
    (["Nobody", "--remove"], 1, "The site 'The Daily' has no contact for 'Nobody'."),
])
def test_author_contact_errors(app, notify, site, args, code, message):
    result = notify("author", site, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert rows(app, sa.select(AuthorContact)) == []


def test_test_sends_through_every_rule_and_prints_each_outcome(app, notify, site, make_editor, smtp_server,
                                                               http_receiver):
    app.config["SMTP_URL"] = smtp_server.url
    make_editor("ann@example.com", name="Ann")
    make_editor("bea@example.com", name="Bea")
    quiet = make_editor("quiet@example.com", name="Quiet")
    gone = make_editor("gone@example.com", name="Gone")
    with app.app_context():
        site_id = Site.find(site).id
        db.session.add(Preference(editor_id=quiet, site_id=site_id, mode="off"))
        db.session.get(Editor, gone).active = False
        db.session.commit()
    for args in (["everyone"], ["email", "desk@example.com"], ["webhook", http_receiver.url + "/hook"],
                 ["slack", http_receiver.url + "/slack"], ["author"]):
        assert notify("add", site, *args).exit_code == 0
    result = notify("test", site)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "rule 1 everyone ann@example.com: ok",
        "rule 1 everyone bea@example.com: ok",
        "rule 2 email desk@example.com: ok",
        f"rule 3 webhook {http_receiver.url} (secret whsec_…{rules_secret(app)[-4:]}): ok",
        f"rule 4 slack {http_receiver.url}/…lack: ok",
        "rule 5 author the article's author: nothing sent: no author contacts yet",
    ]
    smtp_server.wait_for(3)
    assert sorted(r for mail in smtp_server.mails for r in mail.recipients) == [
        "ann@example.com", "bea@example.com", "desk@example.com"]
    assert all("The Daily" in mail.text for mail in smtp_server.mails)
    http_receiver.wait_for(2)
    assert sorted(request.path for request in http_receiver.requests) == ["/hook", "/slack"]
    webhook = next(request for request in http_receiver.requests if request.path == "/hook")
    assert webhook.headers["webhook-signature"].startswith("v1,")


def rules_secret(app):
    with app.app_context():
        return db.session.scalar(sa.select(Rule.secret).where(Rule.recipient == "webhook"))


def test_test_exits_1_and_says_why_when_a_target_fails(app, notify, site, smtp_server, http_receiver):
    app.config["SMTP_URL"] = smtp_server.url
    notify("add", site, "email", "desk@example.com")
    notify("add", site, "webhook", http_receiver.url + "/hook")
    http_receiver.fail_next(1, 500)
    result = notify("test", site)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "rule 1 email desk@example.com: ok"
    assert lines[1].startswith(f"rule 2 webhook {http_receiver.url} (secret") and ": failed: " in lines[1]
    assert "500" in lines[1]
    assert "Traceback" not in result.output


def test_test_without_smtp_fails_the_email_targets(app, notify, site):
    notify("add", site, "email", "desk@example.com")
    result = notify("test", site)
    assert result.exit_code == 1
    assert result.stdout == "rule 1 email desk@example.com: failed: COPYDESK_SMTP_URL is not set\n"


def test_test_and_list_of_a_site_without_rules(app, notify, site):
    assert notify("test", site).stdout == "The site 'The Daily' has no rules: nothing to test.\n"
    assert notify("list", site).stdout == "The site 'The Daily' has no rules: nobody hears its reports.\n"


# --- Every new site starts with the "everyone" rule ---

def test_a_site_added_with_the_cli_starts_with_the_everyone_rule(app, runner):
    result = runner.invoke(args=["sites", "add", "The Daily", "--origin", "https://daily.example.com"])
    assert result.exit_code == 0, result.output
    assert rules_of(app) == [("everyone", "", "instant", "", "", None)]
    assert runner.invoke(args=["notify", "list", "The Daily"]).stdout == \
        "1\teveryone\tevery editor\tevery report\teach editor's choice\n"


def test_a_refused_site_leaves_no_rule(app, runner):
    runner.invoke(args=["sites", "add", "The Daily", "--origin", "https://daily.example.com"])
    again = runner.invoke(args=["sites", "add", "THE DAILY", "--origin", "https://daily.example.com"])
    assert again.exit_code == 1
    assert rows(app, sa.select(sa.func.count()).select_from(Rule)) == [(1,)]


def test_the_demo_site_gets_the_everyone_rule_once(app):
    from copydesk.demo import seed_demo
    with app.app_context():
        seed_demo(["http://127.0.0.1:5000"], password="demo-password-123")
        seed_demo(["http://localhost:5000"])
    assert rules_of(app) == [("everyone", "", "instant", "", "", None)]


def test_saving_an_existing_site_adds_no_rule(app, site):
    with app.app_context():
        found = Site.find(site)
        found.name = "The Daily News"
        found.save()
    assert rules_of(app) == []


def test_removing_a_site_removes_its_rules_contacts_and_deliveries(app, runner, notify):
    runner.invoke(args=["sites", "add", "The Daily", "--origin", "https://daily.example.com"])
    notify("add", "The Daily", "webhook", "https://hooks.example.com/")
    notify("author", "The Daily", "Ann Lee", "ann@example.com")
    with app.app_context():
        db.session.add(_delivery(2, Site.find("The Daily").id, "pending"))
        db.session.commit()
    result = runner.invoke(args=["sites", "remove", "The Daily", "--yes"])
    assert result.exit_code == 0, result.output
    for model in (Rule, AuthorContact, Delivery):
        assert rows(app, sa.select(model)) == []


def test_a_rule_is_the_same_whatever_the_case_or_spaces_of_its_section(app, notify, site):
    assert notify("add", site, "email", "desk@example.com", "--section", "Политика").exit_code == 0
    again = notify("add", site, "email", "desk@example.com", "--section", " ПОЛИТИКА ")
    assert again.exit_code == 1 and "has this rule already (rule 1)" in again.output
    assert notify("add", site, "email", "desk@example.com", "--section", "Straße").exit_code == 0
    assert notify("add", site, "email", "desk@example.com", "--section", "STRASSE").exit_code == 1


def test_two_copies_of_a_rule_are_refused_by_the_database_too(app, site):
    import sqlalchemy.exc
    from copydesk.models import Site
    with app.app_context():
        site_id = Site.find(site).id
        db.session.add_all([Rule(site_id=site_id, recipient="webhook", target="https://h.example.com/x",
                                 match_field="section", match_value=value) for value in ("News", "news ")])
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_an_author_rule_takes_no_author_to_hear(app, notify, site):
    result = notify("add", site, "author", "--author", "Jane Doe")
    assert result.exit_code == 2 and "takes no author to hear" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Rule)) == 0


def test_rule_changes_from_the_cli_are_audited_without_secrets(app, notify, site):
    added = notify("add", site, "webhook", "https://hooks.example.com/")
    rotated = notify("rotate-secret", site, "1")
    assert notify("remove", site, "1").exit_code == 0
    printed = re.findall(r"whsec_[A-Za-z0-9+/=]+", added.stdout + rotated.stdout)
    assert len(printed) == 2
    with app.app_context():
        entries = db.session.execute(sa.select(AuditEntry.action, AuditEntry.editor_id, AuditEntry.subject,
                                               AuditEntry.detail_json).order_by(AuditEntry.id)).all()
    assert [(action, editor_id) for action, editor_id, _, _ in entries] == [
        ("notification_rule_added", None), ("notification_secret_rotated", None),
        ("notification_rule_removed", None)]
    assert all("The Daily" in subject and '"via": "cli"' in detail for _, _, subject, detail in entries)
    assert not any(secret in detail for secret in printed for *_, detail in entries)
