"""The ``copydesk`` command: Copydesk's own commands, and Flask-Migrate's ``db``."""

import functools
import logging
import socket

import click
import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from flask.cli import ScriptInfo, with_appcontext
from flask_migrate.cli import db as db_commands

from .audit import record
from .db import db
from .models import ROLE_LABELS, ROLES, Editor, Refused, Site


def _create_app():
    from . import create_app
    return create_app()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx):
    """Copydesk: typo reports from readers, triaged by editors.

    \b
    Every command uses the instance folder $COPYDESK_INSTANCE_PATH, else
    ./instance in the current directory: its config.py, the SQLite database
    (unless COPYDESK_DATABASE_URL is set) and the generated secret key.
    Run `copydesk db upgrade` first, and after every update.
    """
    if not isinstance(ctx.obj, ScriptInfo):  # the test runner brings its own app
        ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


def needs_schema(command):
    """Run in the app's context on a database at this version's schema; otherwise say to
    run `copydesk db upgrade` (exit 1) instead of failing on a missing table."""
    @with_appcontext
    @functools.wraps(command)
    def run(*args, **kwargs):
        from .schema_version import check_schema
        check_schema(current_app)
        return command(*args, **kwargs)
    return run


def _host_port(bind):
    """(host, port) of a BIND value such as ``127.0.0.1:5000`` or ``[::1]:5000``; None for a
    socket file."""
    bind = str(bind)
    if bind.startswith(("unix:", "fd://")):
        return None
    host, colon, port = bind.rpartition(":")
    if not colon or "]" in port:  # no port: gunicorn's default
        host, port = bind, "8000"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise click.UsageError(_("%(bind)r is not an address like 127.0.0.1:5000.", bind=bind))
    return host, int(port)


def _bind_url():
    """The address `copydesk serve` and `copydesk run` listen on, as a URL."""
    address = _host_port(current_app.config["BIND"])
    if address is None:
        return None
    host, port = address
    if host in ("", "0.0.0.0", "[::]"):
        host = socket.getfqdn()
    return f"http://{host}:{port}"


def desk_url(warn=None):
    """The address readers' browsers reach Copydesk at, for embed snippets and links:
    COPYDESK_PUBLIC_URL; else, in a web request, the address that request came to; else
    (a command, the worker) the address the server listens on, with a warning: on stderr,
    or through ``warn`` (the worker logs it)."""
    if current_app.config["PUBLIC_URL"]:
        return str(current_app.config["PUBLIC_URL"]).rstrip("/")
    if has_request_context():
        return request.url_root.rstrip("/")
    url = _bind_url()
    if url is None:
        raise click.UsageError(_("COPYDESK_BIND is a socket file: set COPYDESK_PUBLIC_URL to the address "
                                 "readers' browsers reach Copydesk at."))
    (warn or functools.partial(click.echo, err=True))(
        _("Warning: COPYDESK_PUBLIC_URL is not set, so the addresses below use %(url)s, where "
          "`copydesk serve` listens (COPYDESK_BIND). Set COPYDESK_PUBLIC_URL to the address "
          "readers' browsers reach Copydesk at.", url=url))
    return url


def refusal(err):
    return click.ClickException(str(err))


sites = click.Group("sites", help="Manage the sites that may send reports.")
editors = click.Group("editors", help="Manage editor accounts.")


@sites.command("add")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True,
              help="An origin the site's pages are served from, e.g. https://news.example.com. Repeatable.")
@click.option("--language", default=None,
              help="The dialog's language (en, ru, de, ...). Left out: each page's own language.")
@click.option("--reader-followup", is_flag=True,
              help="The dialog offers readers an optional email field to hear once when the error is fixed.")
@click.option("--kinds/--no-kinds", default=True, show_default=True,
              help="The dialog asks readers what kind of error it is (typo, fact, link, other).")
@needs_schema
def sites_add(name, origins, language, reader_followup, kinds):
    """Add a site and print its key and embed snippet."""
    from marshmallow import ValidationError

    from .schemas import SiteSchema
    try:
        data = SiteSchema().load({"name": name, "origins": "\n".join(origins), "language": language,
                                  "reader_followup": reader_followup, "kinds_enabled": kinds})
    except ValidationError as err:
        raise usage_error(err) from None
    base = desk_url()
    site = Site()
    try:
        site.update_from(data)
        site.save()
    except Refused as err:
        raise refusal(err) from None
    from .dashboard.sites import site_fields
    record("site_added", site, via="cli", **site_fields(site))
    db.session.commit()
    click.echo(_("Site %(name)r added.", name=site.name))
    click.echo(_("Key: %(key)s", key=site.key))
    click.echo(_("Embed snippet (put it in your article template):"))
    click.echo(site.embed_snippet(base))


@sites.command("list")
@needs_schema
def sites_list():
    """List sites with their keys and origins."""
    for site in db.session.scalars(sa.select(Site).order_by(Site.id)):
        click.echo(f"{site.id}\t{site.key}\t{site.name}\t{' '.join(site.allowed_origins)}")


@sites.command("remove")
@click.argument("site")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@needs_schema
def sites_remove(site, yes):
    """Remove SITE (its key or name) with all its reports."""
    found = Site.find(site)
    if found is None:
        raise click.ClickException(_("No site has the key or name %(site)r.", site=site))
    count = found.report_count()
    if not yes:
        click.confirm(_("Remove the site %(name)r and its %(num)d report(s), with their submissions and "
                        "audit trail? This cannot be undone.", name=found.name, num=count), abort=True)
    name = found.name
    removed = found.remove()
    record("site_removed", found, via="cli", reports=removed)
    db.session.commit()
    click.echo(_("Site %(name)r removed with %(num)d report(s).", name=name, num=removed))


def usage_error(err):
    """A schema's ValidationError as the command's usage error (exit 2)."""
    messages = err.messages if isinstance(err.messages, dict) else {"value": err.messages}
    return click.UsageError("; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items()))


def _checked_password(password):
    from marshmallow import ValidationError

    from .schemas import PASSWORD_LENGTH
    try:
        return PASSWORD_LENGTH(password)
    except ValidationError as err:
        raise click.UsageError(" ".join(err.messages)) from None


def _editor(email):
    editor = Editor.find(email)
    if editor is None:
        raise click.ClickException(_("No editor has the email %(email)s.", email=Editor.normalize_email(email)))
    return editor


def _sites(names_or_keys):
    """The sites named (by key or name), each once; a usage error names one that is not a site."""
    found = []
    for wanted in names_or_keys:
        site = Site.find(wanted)
        if site is None:
            raise click.UsageError(_("No site has the key or name %(site)r. See `copydesk sites list`.", site=wanted))
        if site not in found:
            found.append(site)
    return found


def _site_names(editor):
    return _("all sites (admin)") if editor.is_admin else ", ".join(site.name for site in editor.sites) or _("no site")


@editors.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the editor the admin role (manage sites and editors).")
@click.option("--name", default="", help="Name shown in the audit trail.")
@click.option("--site", "site_names", multiple=True,
              help="A site (its name or key) the editor sees and acts on. Repeatable. Admins see every site.")
@click.password_option(help="The password (asked for if not given).")
@needs_schema
def editors_add(email, admin, name, site_names, password):
    """Add an editor who can log into the dashboard."""
    from marshmallow import ValidationError

    from .schemas import EditorSchema
    try:
        data = EditorSchema().load({"email": email, "name": name, "role": "admin" if admin else "editor"})
    except ValidationError as err:
        raise usage_error(err) from None
    chosen = _sites(site_names)
    try:
        editor = Editor.create(data["email"], _checked_password(password), name=data["name"], role=data["role"])
    except Refused as err:
        raise click.UsageError(str(err)) from None
    editor.sites = chosen
    record("editor_added", editor, via="cli", role=editor.role, sites=[site.name for site in chosen])
    db.session.commit()
    click.echo(_("Editor %(email)s added as %(role)s.", email=editor.email, role=ROLE_LABELS[editor.role]))
    click.echo(_("Sites: %(sites)s.", sites=_site_names(editor)))
    if not editor.is_admin and not chosen:
        click.echo(_("They see no reports until they belong to a site: %(command)s.",
                     command="`copydesk editors sites " + editor.email + " --add SITE`"))


@editors.command("list")
@needs_schema
def editors_list():
    """List editors: email, role, active or not, name, sites."""
    for editor in db.session.scalars(sa.select(Editor).order_by(Editor.email)):
        state = "active" if editor.active else "deactivated"
        click.echo(f"{editor.email}\t{editor.role}\t{state}\t{editor.name}\t{_site_names(editor)}")


@editors.command("sites")
@click.argument("email")
@click.option("--add", "added", multiple=True, help="A site (name or key) to add the editor to. Repeatable.")
@click.option("--remove", "removed", multiple=True, help="A site (name or key) to take the editor off. Repeatable.")
@needs_schema
def editors_sites(email, added, removed):
    """Show EMAIL's sites, or change them with --add and --remove."""
    from .dashboard.editors import set_sites
    editor = _editor(email)
    adding, removing = _sites(added), _sites(removed)
    if set(adding) & set(removing):
        raise click.UsageError(_("A site cannot be both added and removed."))
    if set_sites(editor, [site for site in editor.sites if site not in removing] +
                 [site for site in adding if site not in editor.sites], via="cli"):
        db.session.commit()
    click.echo(f"{editor.email}: {_site_names(editor)}")


@editors.command("set-password")
@click.argument("email")
@click.password_option(help="The new password (asked for if not given).")
@needs_schema
def editors_set_password(email, password):
    """Set EMAIL's password; their other sessions end."""
    editor = _editor(email)
    editor.set_password(_checked_password(password))
    record("editor_password_reset", editor, via="cli")
    db.session.commit()
    click.echo(_("Password of %(email)s changed; their sessions have ended.", email=editor.email))


def _change_editor(email, change, done):
    """Apply ``change(editor)`` to the editor with this email and commit; the desk's
    refusals (the last admin stays) become one line."""
    editor = _editor(email)
    try:
        change(editor)
    except Refused as err:
        raise refusal(err) from None
    db.session.commit()
    click.echo(done(editor))


def _set_active(email, flag):
    from .dashboard.editors import change_active
    _change_editor(email, lambda editor: change_active(editor, flag, via="cli"),
                   lambda editor: (_("Editor %(email)s activated.", email=editor.email) if flag
                                   else _("Editor %(email)s deactivated.", email=editor.email)))


@editors.command("deactivate")
@click.argument("email")
@needs_schema
def editors_deactivate(email):
    """Stop EMAIL from logging in and end their sessions (the last admin stays)."""
    _set_active(email, False)


@editors.command("activate")
@click.argument("email")
@needs_schema
def editors_activate(email):
    """Let a deactivated editor log in again."""
    _set_active(email, True)


@editors.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@needs_schema
def editors_role(email, role):
    """Give EMAIL the role admin or editor (the last admin stays)."""
    from .dashboard.editors import change_role
    _change_editor(email, lambda editor: change_role(editor, role, via="cli"),
                   lambda editor: _("Editor %(email)s is now %(role)s.", email=editor.email, role=ROLE_LABELS[role]))


@click.command("demo")
@click.option("--origin", "origins", multiple=True,
              help="Extra origin for the demo site (the server's own address is always added).")
@needs_schema
def demo_command(origins):
    """Create the demo site, article page and editor, and print the login."""
    from marshmallow import ValidationError

    from .demo import seed_demo
    base = desk_url()
    server = _bind_url()
    try:
        site, email, password = seed_demo([base, *([server] if server else []), *origins])
    except ValidationError as err:
        raise usage_error(err) from None
    click.echo(_("Demo article:   %(url)s (served by `copydesk run`, or with COPYDESK_DEMO=true)", url=base + "/demo/"))
    click.echo(_("Dashboard:      %(url)s", url=base + "/login"))
    click.echo(_("Editor email:   %(email)s", email=email))
    if password:
        click.echo(_("Password:       %(password)s", password=password))
    else:
        click.echo(_("Password:       unchanged (set one with %(command)s)",
                     command="`copydesk editors set-password " + email + "`"))
    click.echo(_("Demo site key:  %(key)s", key=site.key))


@click.command("purge")
@click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
              help="Age in days (default: the RETENTION_DAYS setting).")
@needs_schema
def purge_command(days):
    """Erase personal fields (IP hash, user agent, reader's address) of submissions older than
    DAYS, and delete notification messages sent, failed or cancelled before then."""
    from .retention import purge
    if days is None:
        days = current_app.config["RETENTION_DAYS"]
    if days is None:
        raise click.UsageError(_("Give --older-than DAYS or set COPYDESK_RETENTION_DAYS."))
    erased = purge(days)
    click.echo(_("Erased personal fields of %(submissions)d submission(s) older than %(days)d days, and "
                 "%(addresses)d reader address(es); deleted %(deliveries)d finished notification message(s).",
                 submissions=erased["submissions"], days=days, addresses=erased["reader_addresses"],
                 deliveries=erased["deliveries"]))


@click.command("run")
@click.option("--bind", default=None, help="Address to listen on (default: the BIND setting).")
@click.option("--debug", is_flag=True, help="Reload on code changes and show Werkzeug's debugger.")
@click.option("--no-worker", is_flag=True,
              help="Do not run the background worker (deliveries, scheduled jobs) alongside.")
@needs_schema
def run_command(bind, debug, no_worker):
    """Run the development server (with the demo article at /demo/) and the background worker."""
    import os
    import signal
    import sys

    from werkzeug.serving import WSGIRequestHandler, run_simple

    from .worker import WorkerProcess

    from .logs import configure_app_logging

    class RequestHandler(WSGIRequestHandler):
        """Werkzeug's handler without its own lines, which start with the raw address: the
        app writes the access lines, with the keyed hash (logs.py)."""

        def log_request(self, code="-", size="-"):
            pass

        def log_error(self, format, *args):
            logging.getLogger("werkzeug").error(format, *args)

        def log_message(self, format, *args):
            logging.getLogger("werkzeug").info(format, *args)

    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    if app.config["DEMO"] is None:
        app.config["DEMO"] = True
    address = _host_port(bind or app.config["BIND"])
    if address is None:
        raise click.UsageError(_("The development server listens on an address like 127.0.0.1:5000 only."))
    host, port = address
    configure_app_logging()
    # SIGTERM ends the server as Ctrl+C does, so the worker is stopped with it.
    signal.signal(signal.SIGTERM, lambda *_signal: sys.exit(0))
    # With --debug the reloader's child serves (and is restarted on changes): it runs the worker.
    serving = not debug or os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    worker = WorkerProcess().start() if serving and app.config["SERVE_WORKER"] and not no_worker else None
    try:
        run_simple(host.strip("[]") or "127.0.0.1", port, app, use_reloader=debug, use_debugger=debug,
                   threaded=True, request_handler=RequestHandler)
    finally:
        if worker is not None:
            worker.stop()


@click.command("serve")
@click.option("--bind", default=None, help="Address to listen on (default: the BIND setting).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: the WORKERS setting).")
@click.option("--no-worker", is_flag=True,
              help="Do not run the background worker (deliveries, scheduled jobs) alongside.")
def serve_command(bind, workers, no_worker):
    """Run the production server (gunicorn) and the background worker."""
    from .server import serve
    serve(bind=bind, workers=workers, run_worker=not no_worker)


from .notify.commands import notify  # noqa: E402 (they use the helpers above)
from .worker import worker_command  # noqa: E402
from .checks.commands import check_command  # noqa: E402

COMMANDS = [db_commands, sites, editors, notify, demo_command, purge_command, run_command, serve_command,
            worker_command, check_command]


def register_commands(app):
    """Also on the app's own group, for Flask's test runner (Flask-Migrate adds ``db`` there)."""
    for command in COMMANDS:
        if command is not db_commands:
            app.cli.add_command(command)


for _command in COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main()
