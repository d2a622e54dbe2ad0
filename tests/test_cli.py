"""The ``copydesk`` command: sites, editors, demo — and the built wheel, installed
into a fresh virtualenv outside the checkout, serving the demo on its own."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from conftest import ORIGIN, free_port, report_body, rows
from copydesk.models import Editor, Site

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long enough password"


def test_sites_add_prints_key_and_snippet(app, runner):
    result = runner.invoke(args=["sites", "add", "The Daily", "--origin", "https://daily.example.com",
                                 "--origin", "https://www.daily.example.com:8443"])
    assert result.exit_code == 0, result.output
    [(name, key, origins)] = rows(app, sa.select(Site.name, Site.key, Site.allowed_origins_json))
    assert name == "The Daily"
    assert f"Key: {key}" in result.output
    assert f'/static/copydesk.js" data-site="{key}" defer></script>' in result.output
    assert origins == '["https://daily.example.com", "https://www.daily.example.com:8443"]'


@pytest.mark.parametrize("origin", ["https://daily.example.com/news", "javascript:alert(1)", "daily.example.com"])
def test_sites_add_rejects_a_bad_origin_clearly(app, runner, origin):
    result = runner.invoke(args=["sites", "add", "The Daily", "--origin", origin])
    assert result.exit_code == 2
    assert f"origins: {origin!r} is not an origin like https://news.example.com." in result.output
    assert rows(app, sa.select(Site)) == []


def test_sites_add_needs_an_origin(app, runner):
    result = runner.invoke(args=["sites", "add", "The Daily"])
    assert result.exit_code == 2 and "Missing option '--origin'" in result.output
    assert rows(app, sa.select(Site)) == []


def test_editors_add_asks_for_the_password_twice(app, runner):
    result = runner.invoke(args=["editors", "add", "Ed@Example.com", "--admin"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Editor ed@example.com added as admin." in result.output
    assert PASSWORD not in result.output
    with app.app_context():
        from copydesk.db import db
        editor = db.session.scalar(sa.select(Editor))
        assert (editor.email, editor.role) == ("ed@example.com", "admin")
        assert editor.check_password(PASSWORD) and PASSWORD not in editor.password_hash


def test_editors_add_refuses_a_short_password(app, runner):
    result = runner.invoke(args=["editors", "add", "ed@example.com"], input="short\nshort\n")
    assert result.exit_code == 2
    assert "Use a password of 12 to 200 characters." in result.output
    assert rows(app, sa.select(Editor)) == []


def test_editors_add_refuses_mismatched_repeat(app, runner):
    result = runner.invoke(args=["editors", "add", "ed@example.com"],
                           input=f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0
    assert "do not match" in result.output.lower() or "don't match" in result.output.lower()
    assert len(rows(app, sa.select(Editor))) == 1


def test_editors_add_refuses_a_duplicate_email(app, runner):
    runner.invoke(args=["editors", "add", "ed@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n")
    result = runner.invoke(args=["editors", "add", "ED@example.com"], input=f"{PASSWORD}x\n{PASSWORD}x\n")
    assert result.exit_code == 2
    assert "An editor with the email ed@example.com exists already." in result.output
    [(editor,)] = rows(app, sa.select(Editor))
    assert editor.check_password(PASSWORD)


def test_demo_seeds_a_site_and_an_editor_who_can_log_in(app, runner, client, auth):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines() if ":" in line)
    email, password = lines["Editor email"].strip(), lines["Password"].strip()
    [(site_key,)] = rows(app, sa.select(Site.key))
    assert lines["Demo site key"].strip() == site_key
    assert auth.login(email, password).status_code == 302
    app.config["DEMO"] = True
    assert client.get("/demo/").status_code == 200


def test_demo_again_keeps_the_editors_password(app, runner, auth):
    """`make run` runs `copydesk demo` every time: a password someone set must survive it."""
    first = runner.invoke(args=["demo"])
    email = "editor@demo.copydesk"
    result = runner.invoke(args=["editors", "set-password", email], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert ("Password:       unchanged (set one with `copydesk editors set-password editor@demo.copydesk`)"
            in again.output)
    assert len(rows(app, sa.select(Site))) == 1 and len(rows(app, sa.select(Editor))) == 1
    old_password = dict(line.split(":", 1) for line in first.output.splitlines() if ":" in line)["Password"]
    assert auth.login(email, old_password.strip()).status_code == 401
    assert auth.login(email, PASSWORD).status_code == 302


def test_demo_article_is_served_only_in_demo_mode(app, runner, client):
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert client.get("/demo/").status_code == 404  # DEMO unset: off, as under `copydesk serve`
    app.config["DEMO"] = True
    assert client.get("/demo/").status_code == 200


@pytest.mark.parametrize(("settings", "snippet_base", "warned"), [
    ({}, "http://127.0.0.1:5000", True),
    ({"BIND": "127.0.0.1:9100"}, "http://127.0.0.1:9100", True),
    ({"BIND": "127.0.0.1"}, "http://127.0.0.1:8000", True),  # no port: gunicorn's own default
    ({"PUBLIC_URL": "https://desk.example.com/"}, "https://desk.example.com", False),
], ids=["default-bind", "own-bind", "bind-without-port", "public-url"])
def test_snippet_points_where_the_desk_is_reached(app, runner, snippet_base, warned):
    result = runner.invoke(args=["sites", "add", "The Daily", "--origin", "https://daily.example.com"])
    assert result.exit_code == 0, result.output
    assert f'<script src="{snippet_base}/static/copydesk.js"' in result.stdout
    assert ("COPYDESK_PUBLIC_URL is not set" in result.stderr) is warned
    if warned:
        assert f"use {snippet_base}, where `copydesk serve` listens" in result.stderr


@pytest.mark.parametrize("bind", ["127.0.0.1:99999", "127.0.0.1:http", "[::1]:x"])
def test_a_bad_bind_is_one_line_not_a_traceback(app, runner, bind):
    app.config["BIND"] = bind
    result = runner.invoke(args=["sites", "add", "The Daily", "--origin", "https://daily.example.com"])
    assert result.exit_code == 2 and f"{bind!r} is not an address like 127.0.0.1:5000." in result.output
    assert rows(app, sa.select(Site)) == []


def test_sites_add_refuses_a_unix_socket_bind_without_public_url(app, runner):
    app.config["BIND"] = "unix:/run/copydesk.sock"
    result = runner.invoke(args=["sites", "add", "The Daily", "--origin", "https://daily.example.com"])
    assert result.exit_code == 2 and "set COPYDESK_PUBLIC_URL" in result.output
    assert rows(app, sa.select(Site)) == []


def test_sites_remove_asks_and_says_how_many_reports_go(app, runner, make_site, client):
    site_key = make_site(name="The Daily")
    make_site(name="The Weekly", origins=["https://weekly.example.com"])
    sent = client.post("/api/v1/reports", json=report_body(site_key), headers={"Origin": ORIGIN})
    assert sent.status_code == 201
    answer_no = runner.invoke(args=["sites", "remove", "the daily"], input="n\n")
    assert "Remove the site 'The Daily' and its 1 report(s)" in answer_no.output
    assert answer_no.exit_code == 1 and len(rows(app, sa.select(Site))) == 2
    result = runner.invoke(args=["sites", "remove", site_key], input="y\n")
    assert result.exit_code == 0, result.output
    assert "Site 'The Daily' removed with 1 report(s)." in result.output
    assert rows(app, sa.select(Site.name)) == [("The Weekly",)]
    result = runner.invoke(args=["sites", "remove", "The Weekly", "--yes"])
    assert result.exit_code == 0 and "removed with 0 report(s)" in result.output
    assert rows(app, sa.select(Site)) == []


def test_sites_remove_unknown_site_is_one_line(app, runner):
    result = runner.invoke(args=["sites", "remove", "nowhere", "--yes"])
    assert result.exit_code == 1
    assert result.output == "Error: No site has the key or name 'nowhere'.\n"


def test_editors_list_set_password_role_and_activation(app, runner, make_editor, client, auth):
    make_editor("admin@example.com", role="admin", name="Ada")
    make_editor("ed@example.com", role="editor", name="Ed")
    listed = runner.invoke(args=["editors", "list"])
    assert listed.output.splitlines() == ["admin@example.com\tadmin\tactive\tAda\tall sites (admin)",
                                          "ed@example.com\teditor\tactive\tEd\tno site"]
    result = runner.invoke(args=["editors", "set-password", "ED@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0 and "Password of ed@example.com changed" in result.output
    assert PASSWORD not in result.output
    assert auth.login("ed@example.com", PASSWORD).status_code == 302
    assert runner.invoke(args=["editors", "role", "ed@example.com", "admin"]).output == \
        "Editor ed@example.com is now admin.\n"
    assert runner.invoke(args=["editors", "deactivate", "admin@example.com"]).exit_code == 0
    assert runner.invoke(args=["editors", "list"]).output.splitlines() == [
        "admin@example.com\tadmin\tdeactivated\tAda\tall sites (admin)",
        "ed@example.com\tadmin\tactive\tEd\tall sites (admin)"]
    assert runner.invoke(args=["editors", "activate", "admin@example.com"]).exit_code == 0
    assert rows(app, sa.select(Editor.email, Editor.role, Editor.active).order_by(Editor.email)) == [
        ("admin@example.com", "admin", True), ("ed@example.com", "admin", True)]


def test_editors_set_password_refuses_a_short_one(app, runner, make_editor):
    make_editor("ed@example.com")
    result = runner.invoke(args=["editors", "set-password", "ed@example.com"], input="short\nshort\n")
    assert result.exit_code == 2 and "Use a password of 12 to 200 characters." in result.output
    [(editor,)] = rows(app, sa.select(Editor))
    assert editor.check_password("correct horse battery")


@pytest.mark.parametrize("args", [["deactivate", "boss@example.com"], ["role", "boss@example.com", "editor"]])
def test_the_last_admin_stays_in_one_line(app, runner, make_editor, args):
    make_editor("boss@example.com", role="admin")
    result = runner.invoke(args=["editors", *args])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Cannot ") and result.output.count("\n") == 1
    assert "at least one active admin" in result.output
    assert rows(app, sa.select(Editor.role, Editor.active)) == [("admin", True)]


@pytest.mark.parametrize("args", [["set-password", "who@example.com", "--password", PASSWORD],
                                  ["deactivate", "who@example.com"], ["activate", "who@example.com"],
                                  ["role", "who@example.com", "admin"]])
def test_editor_commands_name_an_unknown_email(app, runner, args):
    result = runner.invoke(args=["editors", *args])
    assert (result.exit_code, result.output) == (1, "Error: No editor has the email who@example.com.\n")


def test_editors_role_refuses_an_unknown_role(app, runner, make_editor):
    make_editor("ed@example.com")
    result = runner.invoke(args=["editors", "role", "ed@example.com", "chief"])
    assert result.exit_code == 2 and "'chief' is not one of 'admin', 'editor'" in result.output


def _copydesk(cwd, *args, env=None, input=None):
    """The installed ``copydesk`` command in ``cwd``, with no instance or database setting."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COPYDESK_")}, **(env or {})}
    return subprocess.run([str(Path(sys.executable).parent / "copydesk"), *args], cwd=cwd, env=env,
                          input=input, capture_output=True, text=True, timeout=120)


def test_every_command_uses_the_instance_folder_in_the_current_directory(tmp_path):
    """`make run` and a later `copydesk sites add` in the same directory share one database."""
    before = _copydesk(tmp_path, "sites", "add", "Gazette", "--origin", "https://gazette.example.com")
    assert before.returncode == 1
    assert before.stderr == ("Error: The database schema is at revision none (empty database), this "
                             f"version of Copydesk needs {_head()}. Run `copydesk db upgrade` first, "
                             "then start again.\n")
    assert _copydesk(tmp_path, "db", "upgrade").returncode == 0
    added = _copydesk(tmp_path, "sites", "add", "Gazette", "--origin", "https://gazette.example.com")
    assert added.returncode == 0, added.stderr
    database = sa.create_engine(f"sqlite:///{tmp_path / 'instance' / 'copydesk.sqlite3'}")
    with database.connect() as connection:
        assert connection.execute(sa.text("SELECT name FROM site")).all() == [("Gazette",)]
    database.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = _copydesk(elsewhere, "sites", "list", env={"COPYDESK_INSTANCE_PATH": str(tmp_path / "instance")})
    assert "Gazette" in listed.stdout and not (elsewhere / "instance").exists()


def _head():
    from alembic.script import ScriptDirectory

    from copydesk import PACKAGE_DIR
    return ScriptDirectory(str(PACKAGE_DIR / "migrations")).get_current_head()


def test_make_run_uses_the_same_instance_rule():
    makefile = (ROOT / "Makefile").read_text()
    assert "COPYDESK_INSTANCE_PATH ?=" not in makefile and "COPYDESK_INSTANCE_PATH :=" not in makefile
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert run.splitlines()[1:] == ["\t$(BIN)/copydesk db upgrade", "\t$(BIN)/copydesk demo", "\t$(BIN)/copydesk run"]


def test_help_shows_copydesks_commands_and_the_instance_rule(tmp_path):
    result = _copydesk(tmp_path, "--help")
    assert result.returncode == 0
    commands = result.stdout.split("Commands:", 1)[1]
    names = {line.split()[0] for line in commands.splitlines() if line.strip()}
    assert names == {"check", "db", "demo", "editors", "notify", "purge", "run", "serve", "sites", "worker"}
    assert "$COPYDESK_INSTANCE_PATH, else\n  ./instance in the current directory" in result.stdout
    assert list(tmp_path.iterdir()) == []  # help alone creates nothing
    for group, subcommands in [("sites", {"add", "list", "remove"}),
                               ("editors", {"add", "list", "sites", "set-password", "activate", "deactivate", "role"})]:
        listed = _copydesk(tmp_path, group, "--help").stdout.split("Commands:", 1)[1]
        assert {line.split()[0] for line in listed.splitlines() if line.strip()} == subcommands


def test_web_pages_on_a_missing_schema_say_to_upgrade(tmp_path, monkeypatch):
    from copydesk import create_app
    from copydesk.db import db
    from conftest import TEST_SECRET_KEY
    monkeypatch.setenv("COPYDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY, "DEMO": True,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    try:
        response = app.test_client().get("/demo/")
        assert response.status_code == 503
        assert "Run `copydesk db upgrade` first" in response.text
        assert response.content_type == "text/plain; charset=utf-8"
    finally:
        with app.app_context():
            db.engine.dispose()


def test_api_on_a_missing_schema_answers_the_apis_json_error(tmp_path, monkeypatch):
    from alembic.script import ScriptDirectory

    from copydesk import create_app
    from copydesk.db import db
    from conftest import TEST_SECRET_KEY
    heads_read = []
    get_heads = ScriptDirectory.get_heads
    monkeypatch.setattr(ScriptDirectory, "get_heads", lambda self: heads_read.append(1) or get_heads(self))
    monkeypatch.setenv("COPYDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    try:
        for _ in range(3):
            response = app.test_client().get("/api/v1/sites/some-key/widget-config")
            assert response.status_code == 503 and response.headers["Retry-After"] == "60"
            assert "Run `copydesk db upgrade` first" in response.json["errors"]["_request"][0]
            assert response.json["codes"] == {"_request": ["error"]}
        assert len(heads_read) <= 1  # the migrations are read once per process, not per error
    finally:
        with app.app_context():
            db.engine.dispose()


def test_run_logs_the_keyed_hash_never_the_address(app, database_url, tmp_path):
    from conftest import TEST_SECRET_KEY, free_port
    port = free_port()
    env = {"COPYDESK_DATABASE_URL": database_url, "COPYDESK_SECRET_KEY": TEST_SECRET_KEY,
           "COPYDESK_INSTANCE_PATH": str(tmp_path / "instance")}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COPYDESK_")}, **env}
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        server = subprocess.Popen([str(Path(sys.executable).parent / "copydesk"), "run", "--bind",
                                   f"127.0.0.1:{port}"], env=env, stdout=out, stderr=err,
                                  start_new_session=True)
    try:
        for _ in range(200):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        # Demo mode is on under `copydesk run`: the page is there, it only lacks a demo site.
        demo = requests.get(f"http://127.0.0.1:{port}/demo/?q=1", timeout=5)
        assert demo.status_code == 404 and "copydesk demo" in demo.text
    finally:
        os.killpg(server.pid, 15)
        server.wait(20)
    from copydesk.intake import hash_ip
    with app.test_request_context():
        expected = hash_ip("127.0.0.1")
    import json
    access = [json.loads(line) for line in (tmp_path / "out").read_text().splitlines()]
    assert [(a["path"], a["status"], a["remote_hash"]) for a in access][-1] == ("/demo/", 404, expected)
    assert access[-1]["query"] == "q=1"
    stderr = (tmp_path / "err").read_text()
    assert all("Running on" in line for line in stderr.splitlines() if "127.0.0.1" in line), stderr


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """The wheel built from this checkout, installed with its dependencies into a new venv."""
    work = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
                   check=True, capture_output=True, env=env, timeout=300)
    [wheel] = (work / "dist").glob("copydesk-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)],
                   check=True, capture_output=True, env=env, timeout=600)
    return venv


@pytest.mark.slow
def test_installed_wheel_serves_the_demo_outside_the_checkout(installed_wheel, tmp_path):
    bin_dir = installed_wheel / "bin"
    # No instance or database setting: the rule alone puts them in ./instance.
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def copydesk(*args, input=None):
        result = subprocess.run([str(bin_dir / "copydesk"), *args], cwd=tmp_path, env=env, input=input,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    where = subprocess.run([str(bin_dir / "python"), "-c", "import copydesk; print(copydesk.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(installed_wheel)), where
    copydesk("db", "upgrade")
    assert "Key: " in copydesk("sites", "add", "Gazette", "--origin", "https://gazette.example.com")
    assert "added as editor" in copydesk("editors", "add", "ed@gazette.example.com",
                                         input=f"{PASSWORD}\n{PASSWORD}\n")
    assert "Demo article:" in copydesk("demo")
    assert (tmp_path / "instance" / "copydesk.sqlite3").is_file()
    assert not (installed_wheel / "var").exists()

    port = free_port()
    server = subprocess.Popen([str(bin_dir / "copydesk"), "serve", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1"], cwd=tmp_path, env={**env, "COPYDESK_DEMO": "true"},
                              start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        article = requests.get(base + "/demo/", timeout=5)
        assert article.status_code == 200
        assert "/static/copydesk.js" in article.text
        script = requests.get(base + "/static/copydesk.js", timeout=5)
        assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
        assert script.content == (ROOT / "static" / "copydesk.js").read_bytes()
        assert requests.get(base + "/login", timeout=5).status_code == 200  # templates
    finally:
        os.killpg(server.pid, 15)
        server.wait(20)
        server.stderr.close()


@pytest.mark.parametrize("args, message", [
    (["e" * 250 + "@example.com"], "email: Longer than maximum length 254."),
    (["ed@example.com", "--name", "n" * 201], "name: Longer than maximum length 200."),
    (["ed\x00@example.com"], "email: Not a valid email address."),
    (["not-an-email"], "email: Not a valid email address."),
])
def test_editors_add_refuses_what_the_database_cannot_hold_in_one_line(app, runner, args, message):
    result = runner.invoke(args=["editors", "add", *args], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output
    assert rows(app, sa.select(Editor)) == []


def test_editors_add_refuses_an_over_long_password(app, runner):
    long_password = "p" * 201
    result = runner.invoke(args=["editors", "add", "ed@example.com"], input=f"{long_password}\n{long_password}\n")
    assert result.exit_code == 2 and "Use a password of 12 to 200 characters." in result.output
    assert rows(app, sa.select(Editor)) == []


@pytest.mark.parametrize("command", [["editors", "deactivate", "ed\x00@example.com"],
                                     ["sites", "remove", "Daily\x00", "--yes"]])
def test_a_nul_in_a_name_or_email_finds_nothing(app, runner, make_editor, make_site, command):
    make_editor("ed@example.com")
    make_site(name="Daily")
    result = runner.invoke(args=command)
    assert result.exit_code == 1 and "No " in result.output and "Traceback" not in result.output


def test_demo_reuses_a_site_already_named_like_the_demo_in_another_case(app, runner, make_site):
    key = make_site(name="copydesk demo", origins=["https://daily.example.com"])
    result = runner.invoke(args=["demo", "--origin", "HTTP://Localhost:80/"])
    assert result.exit_code == 0, result.output
    assert f"Demo site key:  {key}" in result.output
    [(name, origins)] = rows(app, sa.select(Site.name, Site.allowed_origins_json))
    assert name == "copydesk demo"  # the admin's own name stays
    assert origins == '["http://127.0.0.1:5000", "http://localhost", "https://daily.example.com"]'


def test_demo_refuses_an_origin_no_browser_sends(app, runner):
    result = runner.invoke(args=["demo", "--origin", "https://a.com/path"])
    assert result.exit_code == 2 and "is not an origin like https://news.example.com." in result.output
    assert rows(app, sa.select(Site)) == []


@pytest.mark.parametrize("name, value, words", [
    ("RATELIMIT_REPORTS_PER_IP", "garbage", 'must be limits such as "10 per 5 minutes;30 per hour"'),
    ("TRUSTED_PROXIES", "abc", "must be a whole number from 0 to 10"),
    ("PAGE_SIZE", "0", "must be a whole number from 1 to 500"),
    ("SQLITE_SYNCHRONOUS", "bogus", "must be one of OFF, NORMAL, FULL, EXTRA"),
    ("DEMO", "maybe", "must be true or false"),
])
def test_a_mistyped_setting_stops_every_command_with_one_line(tmp_path, name, value, words):
    # Before, a bad rate-limit string started fine and answered 500 to every report send.
    result = _copydesk(tmp_path, "sites", "list", env={f"COPYDESK_{name}": value})
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: COPYDESK_{name} {words}")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_settings_are_kept_as_checked(app_config):
    from copydesk import create_app
    app = create_app({**app_config, "PAGE_SIZE": "20", "SQLITE_SYNCHRONOUS": "full", "DEMO": "yes"})
    assert (app.config["PAGE_SIZE"], app.config["SQLITE_SYNCHRONOUS"], app.config["DEMO"]) == (20, "FULL", True)


def test_site_keys_never_read_as_an_option():
    """A key is typed after commands (`sites remove KEY`, `notify add KEY …`): one starting
    with "-" would be taken for an option. One in 32 random keys would, without the rule."""
    from copydesk.models import new_site_key
    keys = {new_site_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(key[0].isalnum() and len(key) == 16 for key in keys)
