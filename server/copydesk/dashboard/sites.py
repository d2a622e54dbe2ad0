"""Sites (admins): add, edit, remove."""

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from .. import checks
from ..cli import desk_url
from ..db import db
from ..models import Refused, Site
from ..schemas import SiteSchema
from . import ID, admin_required, all_sites, bp, forget_status_counts, form_data


def _save_site(item, form):
    """Load the site form into ``item``; answers the form's errors, or None when it was saved."""
    try:
        item.update_from(SiteSchema().load(form_data(form)))
        item.save()
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
            flash(f"Site “{site.name}” added. Paste its embed snippet into your article template.")
            return redirect(url_for("dashboard.site", site_id=site.id))
    return render_template("dashboard/sites.html", sites=all_sites(), errors=errors,
                           form=request.form), (400 if errors else 200)


@bp.route(f"/sites/<{ID}:site_id>", methods=["GET", "POST"])
@admin_required
def site(site_id):
    item = db.get_or_404(Site, site_id)
    errors = None
    if request.method == "POST":
        errors = _save_site(item, request.form)
        if errors is None:
            flash("Site saved.")
            return redirect(url_for("dashboard.site", site_id=item.id))
    return render_template("dashboard/site.html", site=item, errors=errors,
                           snippet=item.embed_snippet(desk_url())), (400 if errors else 200)


@bp.route(f"/sites/<{ID}:site_id>/remove", methods=["GET", "POST"])
@admin_required
def site_remove(site_id):
    item = db.get_or_404(Site, site_id)
    if request.method == "GET":
        return render_template("dashboard/site_remove.html", site=item, report_count=item.report_count())
    name, removed = item.name, item.remove()
    db.session.commit()
    forget_status_counts()
    flash(f"Site “{name}” removed with its {removed} report{'s' if removed != 1 else ''}.")
    return redirect(url_for("dashboard.sites"))
