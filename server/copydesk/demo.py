"""The demo: a site, an article page with the widget, and an editor to log in as."""

import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request

from .db import db
from .models import Editor, Site

DEMO_SITE_NAME = "Copydesk demo"
DEMO_EDITOR_EMAIL = "editor@demo.copydesk"

bp = Blueprint("demo", __name__, url_prefix="/demo")


def seed_demo(origins, password=None):
    """Create (or refresh) the demo site and editor. Returns (site, email, password)."""
    site = db.session.scalar(sa.select(Site).where(Site.name == DEMO_SITE_NAME))
    if site is None:
        site = Site(name=DEMO_SITE_NAME, language="en")
        db.session.add(site)
    site.allowed_origins = set(site.allowed_origins) | set(origins)
    editor = db.session.scalar(sa.select(Editor).where(Editor.email == DEMO_EDITOR_EMAIL))
    if editor is None:
        editor = Editor(email=DEMO_EDITOR_EMAIL, name="Demo Editor", role="admin")
        db.session.add(editor)
    password = password or secrets.token_urlsafe(9)
    editor.set_password(password)
    db.session.commit()
    return site, editor.email, password


@bp.get("/")
def article():
    """A sample article with the widget embedded, as a publisher's page would have it."""
    site = db.session.scalar(sa.select(Site).where(Site.name == DEMO_SITE_NAME))
    if site is None:
        abort(404, "No demo site: run `copydesk demo` first.")
    lang = "ru" if request.args.get("lang") == "ru" else "en"
    return render_template("demo/article.html", site=site, lang=lang)
