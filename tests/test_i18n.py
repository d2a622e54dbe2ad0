"""The dashboard's languages (English, Russian) and times: every message translated, Russian
plurals, the language an editor picks or their browser asks for, and every time in the
editor's zone (their choice in Account, else the one their browser reports)."""

import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import render_template
from flask_babel import force_locale
from flask_login import login_user

from conftest import csrf_token, rows
from copydesk import PACKAGE_DIR, i18n
from copydesk.db import db
from copydesk.models import Editor, Report
from test_e2e import log_in

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = PACKAGE_DIR / "translations"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues():
    """The .mo files `make` builds, built here too when stale (pytest run on its own), and
    the process-wide cache of loaded catalogues emptied so they are read again."""
    stale = [po for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")
             if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime]
    if stale:
        CommandLineInterface().run(["pybabel", "-q", "compile", "-d", str(TRANSLATIONS)])
    forget_loaded_catalogues()
    yield
    forget_loaded_catalogues()


def forget_loaded_catalogues():
    """Flask-Babel keeps each language's catalogue, once read, for the whole process."""
    domain = vars(i18n.babel).get("domain_instance")  # made on first use
    if domain is not None:
        domain.cache.clear()


TRANSLATED = [code for code in i18n.DASHBOARD_LANGUAGES if code != "en"]


def catalogue(code):
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=code)


def extracted_messages():
    """Every message wrapped in the package's templates and Python, as `make messages` finds them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(PACKAGE_DIR, method_map, options_map):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def test_the_desk_speaks_every_language_it_has_a_catalogue_for():
    assert list(i18n.DASHBOARD_LANGUAGES.items())[:1] == [("en", "English")]  # the fallback
    assert i18n.DASHBOARD_LANGUAGES["ru"] == "Русский"
    assert sorted(TRANSLATED) == sorted(path.name for path in TRANSLATIONS.iterdir() if path.is_dir())


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_has_a_translation(code):
    translations = catalogue(code)
    missing = []
    for msgid, where in sorted(extracted_messages().items(), key=lambda item: item[1]):
        entry = translations.get(msgid)
        strings = [] if entry is None else ([entry.string] if isinstance(entry.string, str) else list(entry.string))
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(f"{where}: {msgid!r}{' (fuzzy)' if entry is not None and entry.fuzzy else ''}")
    assert not missing, f"{len(missing)} messages lack a translation ({code}):\n" + "\n".join(missing)


# Words a template may show as they are, in every language.
UNTRANSLATED_WORDS = {"Copydesk", "CSV", "JSON", "Lines", "URL", "UTC"}
# Attributes whose values people read or hear.
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "label", "aria-roledescription"}
UNREAD_ELEMENTS = ("script", "style", "kbd")


class _ShownText(HTMLParser):
    """The text of an HTML page that people read: text nodes (not scripts, styles or key
    names in <kbd>, which are the same on every keyboard) and the attributes read out or shown."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.shown, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in UNREAD_ELEMENTS
        values = dict(attrs)
        button = tag == "input" and values.get("type") in ("submit", "button")
        self.shown += [value for name, value in attrs
                       if value and (name in READ_ATTRIBUTES or (button and name == "value"))]

    def handle_endtag(self, tag):
        self._hidden -= tag in UNREAD_ELEMENTS

    def handle_data(self, data):
        if not self._hidden:
            self.shown.append(data)


def unwrapped_words(source, environment):
    """Words in a template's own text (outside {{ }}, {% %} and {% trans %}) that no
    gettext call wraps: each would stay English in every language."""
    text, in_trans, tag = [], False, None
    for _lineno, token, value in environment.lex(source):
        if token == "data" and not in_trans:
            text.append(value)
        elif token == "variable_begin":
            text.append("\x00")  # an expression stands between two runs of text
        elif token == "block_begin":
            tag = None
        elif token == "name" and tag is None:
            tag = value
            in_trans = {"trans": True, "endtrans": False}.get(value, in_trans)
    page = _ShownText()
    page.feed("".join(text))
    page.close()
    return [word for chunk in page.shown if not chunk.strip().startswith(("http://", "https://"))
            for word in re.findall(r"[^\W\d_]{2,}", chunk) if word not in UNTRANSLATED_WORDS]


def shown_templates():
    """Every template an editor or a notification's reader sees; not the readers' demo article
    nor the readers' thank-you mails (one template per language, written in it)."""
    root = PACKAGE_DIR / "templates"
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.suffix in (".html", ".txt") and not name.startswith("demo/") and "reader_thanks." not in name:
            yield name, path


def test_every_template_wraps_its_words(app):
    found = {name: words for name, path in shown_templates()
             if (words := unwrapped_words(path.read_text(encoding="utf-8"), app.jinja_env))}
    assert not found, "words no _() wraps:\n" + "\n".join(f"{name}: {' '.join(words)}" for name, words in found.items())


def test_the_unwrapped_words_check_finds_them(app):
    """The check above is real: it finds bare text, read-out attributes and button values,
    and lets wrapped text, trans blocks, scripts and the allowed names through."""
    template = """<h1>Reports</h1><p>{{ _("Fine") }} {% trans %}Also fine{% endtrans %}</p>
<a title="Open it" href="/x">Copydesk CSV</a><input type="submit" value="Send now">
<button value="close">{{ _("Close") }}</button>
<script>const words = "not shown";</script><input placeholder="https://hooks.example.com/…"><kbd>Enter</kbd>"""
    assert unwrapped_words(template, app.jinja_env) == ["Reports", "Open", "it", "Send", "now"]


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_every_placeholder(code):
    """A translation that drops or renames a %(name)s would fail (or lie) when shown."""
    problems = [f"{message.id!r}: {errors}" for message, errors in catalogue(code).check()]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("total, shown", [
    (1, "1 отчёт"), (2, "2 отчёта"), (5, "5 отчётов"), (11, "11 отчётов"),
    (21, "21 отчёт"), (22, "22 отчёта"), (25, "25 отчётов"), (111, "111 отчётов"),
])
def test_russian_plurals_in_the_digest(app, total, shown):
    with app.test_request_context(), force_locale("ru"):
        text = render_template("mail/digest.txt", reports=[], total=total, more=0, site_name="Daily",
                               dashboard_url="")
    assert text.splitlines()[0] == f"{shown} на сайте Daily"


@pytest.mark.parametrize("total, shown", [(1, "1 report"), (2, "2 reports")])
def test_english_plurals_in_the_digest(app, total, shown):
    with app.test_request_context(), force_locale("en"):
        text = render_template("mail/digest.txt", reports=[], total=total, more=0, site_name="Daily",
                               dashboard_url="")
    assert text.splitlines()[0] == f"{shown} on Daily"


@pytest.mark.parametrize("accept, lang, button", [
    ("ru-RU,ru;q=0.9,en;q=0.8", "ru", "Войти"),
    ("de-DE,de;q=0.9,ru;q=0.5", "ru", "Войти"),
    ("en-GB,en;q=0.9", "en", "Log in"),
    ("fr-FR", "en", "Log in"),
    (None, "en", "Log in"),
])
def test_login_page_speaks_the_browsers_language(client, accept, lang, button):
    response = client.get("/login", headers={"Accept-Language": accept} if accept else {})
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.text
    assert f'<button type="submit">{button}</button>' in response.text


def _log_in(client, email="editor@example.com", accept="en"):
    page = client.get("/login")
    response = client.post("/login", headers={"Accept-Language": accept}, data={
        "email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302


def _save(client, **fields):
    token = csrf_token(client.get("/account").text)
    return client.post("/account/preferences", data={"csrf_token": token, **fields},
                       headers={"Accept-Language": "en"})


def test_language_chosen_in_account_sticks(app, client, make_editor):
    make_editor()
    _log_in(client)
    response = _save(client, language="ru", time_zone="")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account#language-time")
    assert rows(app, sa.select(Editor.language, Editor.time_zone)) == [("ru", None)]
    # The editor's choice beats the browser's English, on every page.
    page = client.get("/account", headers={"Accept-Language": "en"})
    assert '<html lang="ru">' in page.text
    assert "<h1>Учётная запись</h1>" in page.text
    assert "Язык и часовой пояс сохранены." in page.text
    assert '<option value="ru" lang="ru" selected>Русский</option>' in page.text
    # Back to the browser's language.
    _save(client, language="", time_zone="")
    assert rows(app, sa.select(Editor.language)) == [(None,)]
    assert "<h1>Account</h1>" in client.get("/account", headers={"Accept-Language": "en"}).text
    assert "<h1>Учётная запись</h1>" in client.get("/account", headers={"Accept-Language": "ru"}).text


def test_time_zone_chosen_in_account_is_saved(app, client, make_editor):
    make_editor()
    _log_in(client)
    assert _save(client, language="en", time_zone="Asia/Almaty").status_code == 302
    assert rows(app, sa.select(Editor.language, Editor.time_zone)) == [("en", "Asia/Almaty")]
    assert 'value="Asia/Almaty"' in client.get("/account").text


@pytest.mark.parametrize("fields, field, message", [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone",
     "“Mars/Olympus_Mons” is not a time zone we know. Choose one from the list"),
    ({"time_zone": "../../etc/passwd"}, "time_zone", "is not a time zone we know"),
    ({"time_zone": "x" * 5000}, "time_zone", "is not a time zone we know"),
    ({"language": "tlh"}, "language", "Choose one of the languages in the list."),
])
def test_unknown_language_or_time_zone_is_a_form_error(app, client, make_editor, fields, field, message):
    make_editor()
    _log_in(client)
    response = _save(client, **fields)
    assert response.status_code == 400
    assert f'<span class="field-error" id="{field}-error"><strong>Error:</strong> ' in response.text
    assert message in response.text
    assert rows(app, sa.select(Editor.language, Editor.time_zone)) == [(None, None)]


def test_form_error_in_russian(app, client, make_editor):
    make_editor()
    _log_in(client)
    client.post("/account/preferences", data={"csrf_token": csrf_token(client.get("/account").text),
                                               "language": "ru"})
    response = client.post("/account/preferences", data={
        "csrf_token": csrf_token(client.get("/account").text), "language": "ru", "time_zone": "Nowhere"})
    assert response.status_code == 400
    assert "Часовой пояс «Nowhere» нам неизвестен." in response.text


def test_preferences_need_a_login(client):
    token = csrf_token(client.get("/login").text)
    response = client.post("/account/preferences", data={"csrf_token": token, "language": "ru"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


MOMENT = datetime(2026, 1, 5, 9, 0)  # naive UTC, as stored


def _when(app, moment, now, *, zone_cookie=None, accept="en", editor_id=None, relative=True):
    headers = {"Accept-Language": accept}
    if zone_cookie:
        headers["Cookie"] = f"{i18n.TIME_ZONE_COOKIE}={zone_cookie}"
    with app.test_request_context(headers=headers):
        if editor_id:
            login_user(db.session.get(Editor, editor_id))
        # Babel keeps "9:00 AM" and "2026 г." together with no-break spaces: plain ones here.
        return str(i18n.when(moment, relative, now=now)).replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize("zone_cookie, accept, shown", [
    (None, "en", "Jan 5, 2026, 9:00 AM (UTC)"),
    ("Europe/Moscow", "en", "Jan 5, 2026, 12:00 PM (Europe/Moscow)"),
    ("Asia/Almaty", "ru", "5 янв. 2026 г., 14:00 (Asia/Almaty)"),
    ("America/New_York", "en", "Jan 5, 2026, 4:00 AM (America/New_York)"),
    ("Not/AZone", "en", "Jan 5, 2026, 9:00 AM (UTC)"),  # an unknown zone from a cookie: UTC
])
def test_older_times_are_exact_in_the_browsers_zone_named(app, zone_cookie, accept, shown):
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    html = _when(app, MOMENT, now, zone_cookie=zone_cookie, accept=accept)
    assert html == f'<time datetime="2026-01-05T09:00:00Z" title="{shown}">{shown}</time>'


@pytest.mark.parametrize("offset, accept, relative", [
    (timedelta(hours=3), "en", "3 hours ago"),
    (timedelta(hours=3), "ru", "3 часа назад"),
    (timedelta(minutes=5), "ru", "5 минут назад"),
    (timedelta(seconds=20), "en", "1 minute ago"),
    (-timedelta(minutes=10), "en", "in 10 minutes"),
    (-timedelta(hours=2), "ru", "через 2 часа"),
])
def test_recent_times_are_relative_with_the_exact_time_on_hover_and_for_screen_readers(app, offset, accept,
                                                                                        relative):
    now = MOMENT.replace(tzinfo=timezone.utc) + offset
    html = _when(app, MOMENT, now, zone_cookie="Europe/Moscow", accept=accept)
    exact = "Jan 5, 2026, 12:00 PM (Europe/Moscow)" if accept == "en" else "5 янв. 2026 г., 12:00 (Europe/Moscow)"
    assert html == (f'<time datetime="2026-01-05T09:00:00Z" title="{exact}">{relative}'
                    f'<span class="visually-hidden"> ({exact})</span></time>')


def test_a_recent_time_in_a_sentence_is_exact(app):
    now = MOMENT.replace(tzinfo=timezone.utc) - timedelta(hours=23)
    exact = "Jan 5, 2026, 12:00 PM (Europe/Moscow)"
    assert _when(app, MOMENT, now, zone_cookie="Europe/Moscow", relative=False) == (
        f'<time datetime="2026-01-05T09:00:00Z" title="{exact}">{exact}</time>')


def test_editors_zone_from_account_beats_the_browsers(app, make_editor):
    editor_id = make_editor()
    with app.app_context():
        db.session.get(Editor, editor_id).time_zone = "Asia/Tokyo"
        db.session.commit()
    html = _when(app, MOMENT, datetime(2026, 3, 1, tzinfo=timezone.utc), zone_cookie="Europe/Moscow",
                 editor_id=editor_id)
    assert 'title="Jan 5, 2026, 6:00 PM (Asia/Tokyo)"' in html


def test_the_desk_speaks_english_when_catalogues_are_not_compiled(app_config, tmp_path, monkeypatch):
    """A checkout run without `make` (no .mo files): English, never an error."""
    from copydesk import create_app
    monkeypatch.setenv("COPYDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    forget_loaded_catalogues()
    try:
        bare = create_app({**app_config, "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "none")})
        response = bare.test_client().get("/login", headers={"Accept-Language": "ru"})
    finally:
        forget_loaded_catalogues()
    assert response.status_code == 200
    assert '<html lang="ru">' in response.text and '<button type="submit">Log in</button>' in response.text


def test_browser_reports_its_time_zone(new_context, live_server, make_editor):
    """Chromium in Almaty: i18n.js tells the desk, and Account shows the browser's zone."""
    make_editor()
    context = new_context(timezone_id="Asia/Almaty", locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    log_in(page, live_server.url, "editor@example.com", PASSWORD)
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies[i18n.TIME_ZONE_COOKIE]["value"] == "Asia/Almaty"
    assert cookies[i18n.TIME_ZONE_COOKIE]["sameSite"] == "Lax"
    page.goto(live_server.url + "/account")
    assert page.locator("#time_zone_hint").inner_text().startswith("Empty: your browser's, now Asia/Almaty.")
    # Times are now shown in the browser's zone, named.
    with live_server.app.test_request_context(headers={"Cookie": f"{i18n.TIME_ZONE_COOKIE}=Asia/Almaty"}):
        assert "(Asia/Almaty)" in str(i18n.when(MOMENT))
    assert not errors, errors  # no CSP violation, no script error


def test_an_editor_with_language_ru_gets_russian_report_and_digest_mails(app, client, site_key, make_editor):
    """Emails go out in the recipient editor's language, kinds included, whoever sends them;
    the next editor's (English) is not touched by it."""
    from copydesk.notify import messages
    from copydesk.notify.models import Delivery, DeliveryItem
    from test_messages import file
    report_id = file(client, site_key, kind="typo")
    russian, english = make_editor("ru@example.com", name="Ира"), make_editor("en@example.com")
    with app.app_context():
        db.session.get(Editor, russian).language = "ru"
        report = db.session.get(Report, report_id)
        mails = {}
        for editor_id in (russian, english):
            for kind in ("report", "digest"):
                delivery = Delivery(site_id=report.site_id, channel="email", kind=kind, recipient="x@example.com",
                                    recipient_key=f"editor:{editor_id}", editor_id=editor_id)
                delivery.items.append(DeliveryItem(report_id=report_id, reason="new", count=1))
                db.session.add(delivery)
                db.session.flush()
                mails[editor_id, kind] = messages.email_for(delivery)
    ru_report, ru_digest = mails[russian, "report"], mails[russian, "digest"]
    assert ru_report.subject == "Новый отчёт: «principle keeper» — Daily"
    assert "Тип: опечатка ×1" in ru_report.text and "Тип: опечатка ×1" in ru_report.html
    assert ru_digest.subject == "1 отчёт на сайте Daily" and "Тип: опечатка ×1" in ru_digest.text
    assert "Kind:" not in ru_report.text + ru_digest.text
    assert mails[english, "report"].subject == "New report: “principle keeper” — Daily"
    assert "Kind: typo ×1" in mails[english, "digest"].text


def test_a_russian_editor_sees_statuses_kinds_and_page_checks_in_russian(app, client, site_key, make_editor):
    """Stored values (status, resolution, kind, page-check state) are shown in the editor's
    language; the form values and URLs stay English."""
    from test_messages import file
    report_id = file(client, site_key, kind="typo")
    editor_id = make_editor()
    with app.app_context():
        db.session.get(Editor, editor_id).language = "ru"
        db.session.get(Report, report_id).close("not_an_error", by=db.session.get(Editor, editor_id))
        db.session.commit()
    _log_in(client)
    listed = client.get("/reports?status=all").text
    assert '<span class="badge status-closed">закрыт: не ошибка</span>' in listed
    assert '<option value="typo" >опечатка</option>' in listed or '<option value="typo">опечатка</option>' in listed
    assert '<span class="check-state check-unchecked">не проверялась</span>' in listed
    page = client.get(f"/reports/{report_id}").text
    assert "изменил(а) статус: был «новый», стал «закрыт»" in " ".join(page.split())
    assert '<span class="kind">опечатка</span>' in page


def test_the_widgets_api_answers_in_english_whatever_the_browser_asks(client, site_key):
    """The widget words the API's messages itself, by code, in 14 languages."""
    from conftest import ORIGIN, report_body
    response = client.post("/api/v1/reports", json={**report_body(site_key), "exact": ""},
                           headers={"Origin": ORIGIN, "Accept-Language": "ru-RU,ru;q=0.9"})
    assert response.status_code == 422
    assert not re.search("[а-яё]", response.text, re.IGNORECASE), response.text


def test_form_errors_from_marshmallow_itself_are_translated(app):
    from copydesk.schemas import EditorSchema
    from marshmallow import ValidationError
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        with pytest.raises(ValidationError) as refused:
            EditorSchema().load({"email": "nobody", "name": "x" * 201})
    assert refused.value.messages == {"email": ["Это не адрес электронной почты."],
                                      "name": ["Длиннее максимальной длины 200."]}
    assert all(type(message) is str for messages in refused.value.messages.values() for message in messages)


@pytest.mark.parametrize("environment, language", [
    ({"LANG": "ru_RU.UTF-8"}, "ru"), ({"LC_ALL": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"),
    ({"LC_MESSAGES": "ru_RU", "LANG": "C.UTF-8"}, "ru"), ({"COPYDESK_LANGUAGE": "en", "LANG": "ru_RU.UTF-8"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "en"), ({"LANG": "C.UTF-8"}, "en"), ({}, "en"),
])
def test_the_command_line_speaks_the_environments_language(environment, language):
    assert i18n.command_line_language(environment) == language


def test_copydesk_in_a_russian_terminal_answers_in_russian(app, runner, make_site, monkeypatch):
    """Messages for people are Russian; the tab-separated list for scripts is as it was."""
    for name in ("COPYDESK_LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    site_key = make_site(name="Daily")
    english = runner.invoke(args=["sites", "list"], env={"LANG": "C.UTF-8"})
    russian = runner.invoke(args=["sites", "list"], env={"LANG": "ru_RU.UTF-8"})
    assert russian.exit_code == 0 and russian.output == english.output and f"\t{site_key}\tDaily\t" in russian.output
    refused = runner.invoke(args=["sites", "remove", "nowhere", "--yes"], env={"LANG": "ru_RU.UTF-8"})
    assert refused.exit_code == 1
    assert refused.output == "Error: Нет сайта с ключом или названием 'nowhere'.\n"
    checked = runner.invoke(args=["check", "--site", "nowhere"], env={"LANG": "ru_RU.UTF-8"})
    assert "Нет сайта с названием или ключом 'nowhere'" in checked.output
    english = runner.invoke(args=["sites", "remove", "nowhere", "--yes"], env={"LANG": "en_GB.UTF-8"})
    assert english.output == "Error: No site has the key or name 'nowhere'.\n"


def test_login_refusal_and_error_pages_in_russian(client, make_editor):
    make_editor()
    page = client.get("/login", headers={"Accept-Language": "ru"})
    refused = client.post("/login", headers={"Accept-Language": "ru"}, data={
        "email": "editor@example.com", "password": "wrong password!", "csrf_token": csrf_token(page.text)})
    assert refused.status_code == 401 and "Неверный адрес или пароль." in refused.text
    missing = client.get("/no/such/page", headers={"Accept-Language": "ru"})
    assert missing.status_code == 404 and "По этому адресу ничего нет." in missing.text
    # Logged out, the reports ask for a login, in the browser's language.
    asked = client.get("/reports", headers={"Accept-Language": "ru"}, follow_redirects=True)
    assert "Войдите, чтобы увидеть отчёты." in asked.text


def test_the_lists_row_words_follow_each_requests_language(app, client, make_editor, auth, site_key):
    """The words every row repeats are looked up once per request (reports.row_words), never
    kept from one request, or one editor's language, to the next."""
    from conftest import report_body
    from test_api import post
    make_editor()
    assert auth.login().status_code == 302
    assert post(client, report_body(site_key)).status_code == 201
    english = client.get("/reports", headers={"Accept-Language": "en"}).text
    with app.app_context():
        db.session.execute(sa.update(Editor).values(language="ru"))
        db.session.commit()
    russian = client.get("/reports").text
    assert "Assign to me" in english and "Not an error" in english and "1 year" in english
    assert "Assign to me" not in russian and "Not an error" not in russian and "1 year" not in russian
