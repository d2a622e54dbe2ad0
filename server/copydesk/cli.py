"""The ``copydesk`` command: Flask's CLI plus our own commands."""

import os
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from .db import db
from .models import Editor, Site, Submission, utcnow


def _create_app():
    from . import create_app
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main():
    """Copydesk: typo reports from readers, triaged by editors."""


def _desk_url():
    return (current_app.config["PUBLIC_URL"] or "http://127.0.0.1:5000").rstrip("/")


sites = click.Group("sites", help="Manage the sites that may send reports.")
editors = click.Group("editors", help="Manage editor accounts.")


@sites.command("add")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True,
              help="An origin the site's pages are served from, e.g. https://news.example.com. Repeatable.")
@click.option("--language", default="en", show_default=True, help="The site's default language.")
@with_appcontext
def sites_add(name, origins, language):
    """Add a site and print its key and embed snippet."""
    from marshmallow import ValidationError

    from .schemas import SiteSchema
    try:
        data = SiteSchema().load({"name": name, "origins": "\n".join(origins), "language": language})
    except ValidationError as err:
        raise click.UsageError("; ".join(f"{k}: {' '.join(v)}" for k, v in err.messages.items()))
    site = Site()
    site.update_from(data)
    db.session.add(site)
    db.session.commit()
    click.echo(f"Site {site.name!r} added.")
    click.echo(f"Key: {site.key}")
    click.echo("Embed snippet (put it in your article template):")
    click.echo(site.embed_snippet(_desk_url()))


@sites.command("list")
@with_appcontext
def sites_list():
    """List sites with their keys and origins."""
    for site in db.session.scalars(sa.select(Site).order_by(Site.id)):
        click.echo(f"{site.id}\t{site.key}\t{site.name}\t{' '.join(site.allowed_origins)}")


@editors.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the editor the admin role (manage sites and editors).")
@click.option("--name", default="", help="Name shown in the audit trail.")
@click.password_option(help="The password (asked for if not given).")
@with_appcontext
def editors_add(email, admin, name, password):
    """Add an editor who can log into the dashboard."""
    email = email.strip().lower()
    if "@" not in email:
        raise click.UsageError(f"{email!r} is not an email address.")
    if len(password) < 12:
        raise click.UsageError("Use a password of at least 12 characters.")
    if db.session.scalar(sa.select(Editor.id).where(Editor.email == email)):
        raise click.UsageError(f"An editor with the email {email} exists already.")
    editor = Editor(email=email, name=name, role="admin" if admin else "editor")
    editor.set_password(password)
    db.session.add(editor)
    db.session.commit()
    click.echo(f"Editor {email} added as {editor.role}.")


@click.command("demo")
@click.option("--origin", "origins", multiple=True,
              help="Extra origin for the demo site (the dev server's own are always added).")
@with_appcontext
def demo_command(origins):
    """Create the demo site, article page and editor, and print the login."""
    from .demo import seed_demo
    base = _desk_url()
    site, email, password = seed_demo([base, "http://127.0.0.1:5000", "http://localhost:5000", *origins])
    click.echo(f"Demo article:   {base}/demo/")
    click.echo(f"Dashboard:      {base}/login")
    click.echo(f"Editor email:   {email}")
    click.echo(f"Password:       {password}")
    click.echo(f"Demo site key:  {site.key}")


@click.command("purge")
@click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
              help="Age in days (default: the RETENTION_DAYS setting).")
@with_appcontext
def purge_command(days):
    """Erase personal fields (IP hash, user agent) of submissions older than DAYS."""
    if days is None:
        days = current_app.config["RETENTION_DAYS"]
    if days is None:
        raise click.UsageError("Give --older-than DAYS or set COPYDESK_RETENTION_DAYS.")
    cutoff = utcnow() - timedelta(days=int(days))
    result = db.session.execute(
        sa.update(Submission)
        .where(Submission.created_at < cutoff,
               sa.or_(Submission.ip_hash.is_not(None), Submission.user_agent.is_not(None)))
        .values(ip_hash=None, user_agent=None))
    db.session.commit()
    click.echo(f"Erased personal fields of {result.rowcount} submission(s) older than {days} days.")


@click.command("serve")
@click.option("--bind", default=None, help="Address to listen on (default: the BIND setting).")
@click.option("--workers", type=int, default=None, help="Worker processes.")
def serve_command(bind, workers):
    """Run the production server (gunicorn)."""
    from .server import serve
    serve(bind=bind, workers=workers)


def register_commands(app):
    app.cli.add_command(sites)
    app.cli.add_command(editors)
    app.cli.add_command(demo_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(serve_command)


if __name__ == "__main__":
    main()
