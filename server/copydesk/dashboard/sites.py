"""Sites (admins): add, edit, remove."""

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError

from .. import checks
from ..audit import record
from ..cli import desk_url
from ..db import db
from ..models import Editor, Refused, Site, editor_site
from ..schemas import SiteSchema
from . import ID, admin_required, all_sites, bp, forget_status_counts, form_data, site_or_404

# What the site form sets, as the audit trail names a change.
SITE_FIELDS = ("name", "language", "max_selection", "allowed_origins", "reader_followup", "kinds_enabled",
               "check_every_hours")


def site_fields(site):
    return {name: getattr(site, name) for name in SITE_FIELDS}


def changed_fields(before, after):
    """{field: {"from": before, "to": after}} for the fields that differ."""
    return {name: {"from": before[name], "to": after[name]} for name in SITE_FIELDS if before[name] != after[name]}


def _save_site(item, form):
    """Load the site form into ``item``; answers the form's errors, or None when it was saved."""
    adding, before = item.id is None, site_fields(item)
    try:
        item.update_from(SiteSchema().load(form_data(form)))
        item.save()
        if adding:
            record("site_added", item, by=current_user, **site_fields(item))
        elif changes := changed_fields(before, site_fields(item)):
            record("site_changed", item, by=current_user, **changes)
        checks.reschedule(item)  # a shorter period applies to pages checked already
        db.session.commit()
    except ValidationError as err:
        return err.messages
    except Refused as refused:
        return {"name": [str(refused)]}
    return None


@bp.route("/sites", methods=["GET", "POST"])
@admin_required
def sites():
    errors = None
    if request.method == "POST":
        site = Site()
        errors = _save_site(site, request.form)
        if errors is None:
            flash(_("Site “%(name)s” added. Paste its embed snippet into your article template.", name=site.name))
            return redirect(url_for("dashboard.site", site_id=site.id))
    members = dict(db.session.execute(sa.select(editor_site.c.site_id, sa.func.count()).group_by(
        editor_site.c.site_id)).all())
    return render_template("dashboard/sites.html", sites=all_sites(), errors=errors, members=members,
                           form=request.form), (400 if errors else 200)


@bp.route(f"/sites/<{ID}:site_id>", methods=["GET", "POST"])
@admin_required
def site(site_id):
    item = site_or_404(site_id)
    errors = None
    if request.method == "POST":
        errors = _save_site(item, request.form)
        if errors is None:
            flash(_("Site saved."))
            return redirect(url_for("dashboard.site", site_id=item.id))
    members = db.session.scalars(sa.select(Editor.email).join(editor_site, editor_site.c.editor_id == Editor.id)
                                 .where(editor_site.c.site_id == item.id).order_by(Editor.email)).all()
    return render_template("dashboard/site.html", site=item, errors=errors, members=members,
                           snippet=item.embed_snippet(desk_url())), (400 if errors else 200)


@bp.route(f"/sites/<{ID}:site_id>/remove", methods=["GET", "POST"])
@admin_required
def site_remove(site_id):
    item = site_or_404(site_id)
    if request.method == "GET":
        return render_template("dashboard/site_remove.html", site=item, report_count=item.report_count())
    name, removed = item.name, item.remove()
    record("site_removed", item, by=current_user, reports=removed)  # its words, before the commit forgets it
    db.session.commit()
    forget_status_counts()
    flash(ngettext("Site “%(name)s” removed with its %(num)d report.", "Site “%(name)s” removed with its %(num)d reports.",
                   removed, name=name))
    return redirect(url_for("dashboard.sites"))
