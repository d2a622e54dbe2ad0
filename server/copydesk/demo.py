"""The demo: a site, an article page with the widget, and an editor to log in as."""

import secrets

from flask import Blueprint, abort, current_app, render_template, request

from .db import db
from .models import Editor, Site
from .schemas import SiteSchema

DEMO_SITE_NAME = "Copydesk demo"
DEMO_EDITOR_EMAIL = "editor@demo.copydesk"

bp = Blueprint("demo", __name__, url_prefix="/demo")


def seed_demo(origins, password=None):
    """Create the demo site and editor, or add origins to the site. An existing editor is
    left as it is: its password may be the one someone chose. Returns (site, email,
    password), the password None when the editor existed already. Origins go through the
    site form's rule (SiteSchema): a bad one raises ValidationError."""
    site = Site.find(DEMO_SITE_NAME) or Site(language=None, max_selection=300, kinds_enabled=True)
    site.update_from(SiteSchema().load({
        "name": site.name or DEMO_SITE_NAME, "language": site.language, "max_selection": site.max_selection,
        "reader_followup": bool(site.reader_followup), "kinds_enabled": bool(site.kinds_enabled),
        "origins": "\n".join([*site.allowed_origins, *origins])}))
    site.save()
    editor, password = Editor.find(DEMO_EDITOR_EMAIL), None
    if editor is None:
        password = password or secrets.token_urlsafe(12)
        editor = Editor.create(DEMO_EDITOR_EMAIL, password, name="Demo Editor", role="admin")
    # A member too, so the demo site stays theirs should someone make them a plain editor.
    if site not in editor.sites:
        editor.sites.append(site)
        db.session.commit()
    return site, DEMO_EDITOR_EMAIL, password


@bp.get("/")
def article():
    """A sample article with the widget embedded, as a publisher's page would have it;
    only in demo mode (the DEMO setting; on under `copydesk run`)."""
    if not current_app.config["DEMO"]:
        abort(404)
    site = Site.find(DEMO_SITE_NAME)
    if site is None:
        abort(404, "No demo site: run `copydesk demo` first.")
    lang = "ru" if request.args.get("lang") == "ru" else "en"
    return render_template("demo/article.html", site=site, lang=lang)
