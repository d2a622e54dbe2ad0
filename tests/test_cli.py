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

from conftest import free_port, rows
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
    assert "Use a password of at least 12 characters." in result.output
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
    assert client.get("/demo/").status_code == 200
    # Running it again refreshes the password; it does not add a second site.
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert len(rows(app, sa.select(Site))) == 1


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
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path),
           "COPYDESK_INSTANCE_PATH": str(tmp_path / "instance"),
           "COPYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.sqlite3'}"}

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

    port = free_port()
    server = subprocess.Popen([str(bin_dir / "copydesk"), "serve", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1"], cwd=tmp_path, env=env, start_new_session=True,
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
