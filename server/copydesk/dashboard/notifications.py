"""A site's notifications (admins): rules, author contacts, a test, recent deliveries; and
each editor's own choices under Account."""

from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from flask_login import current_user, login_required
from marshmallow import ValidationError

from ..audit import record
from ..db import db
from ..models import Editor, Refused, utcnow
from ..notify.models import (DEFAULT_MODE, DIGEST_MODES, RECIPIENTS, AuthorContact, Delivery, Job, Preference,
                             Rule, mask_target, test_deadline)
from ..notify.schemas import KINDS, RULE_MODES, AuthorContactSchema, RuleSchema, preference_modes
from . import ID, admin_required, bp, form_data, site_or_404, visible_sites

RECIPIENT_LABELS = {"everyone": lazy_gettext("Every editor"), "editor": lazy_gettext("One editor"),
                    "author": lazy_gettext("The article's author"), "email": lazy_gettext("An email address"),
                    "slack": "Slack", "telegram": "Telegram", "webhook": lazy_gettext("Signed webhook")}
MODE_LABELS = {"instant": lazy_gettext("Every report at once"), "hourly": lazy_gettext("Hourly digest"),
               "daily": lazy_gettext("Daily digest"), "off": lazy_gettext("Nothing")}
RECENT_DELIVERIES = 50


def shown_recipient(delivery):
    """Who a delivery went to, as admins see it: never a reader's address, never a secret URL
    (``mask_target``, also for rows stored before their URL was masked)."""
    if delivery.kind == "reader-thanks":
        return _("the reader (address not shown)")
    return mask_target(delivery.channel, delivery.recipient)


def recent_deliveries(site):
    return db.session.scalars(
        sa.select(Delivery).where(Delivery.site_id == site.id).order_by(Delivery.id.desc())
        .limit(RECENT_DELIVERIES).options(so.selectinload(Delivery.rule).selectinload(Rule.editor))).all()


# A running worker runs its "requested checks" job every minute: this long without any job
# run means no worker is running (or all are stuck).
WORKER_QUIET = timedelta(minutes=10)


def worker_health():
    """The scheduled jobs as the workers last ran them, and whether any worker seems to run."""
    jobs = db.session.scalars(sa.select(Job).order_by(Job.name)).all()
    last = max((job.last_run_at for job in jobs if job.last_run_at), default=None)
    return jobs, last is None or last < utcnow() - WORKER_QUIET


def _page(site, status=200, errors=None, author_errors=None, shown_secret=None, outcomes=None):
    """The notifications page. ``shown_secret`` (rule, secret) and test ``outcomes`` are shown
    in this response only, never kept in the session cookie."""
    adding = request.values.get("recipient") or request.args.get("add") or "email"
    if adding not in RECIPIENTS:
        adding = "email"
    # Only those who may see the site's reports can hear about them.
    editors = db.session.scalars(sa.select(Editor).where(Editor.seeing_site(site.id)).order_by(Editor.email)).all()
    form = request.form if request.method == "POST" else {}
    return render_template(
        "dashboard/notifications.html", site=site, rules=Rule.of_site(site), contacts=AuthorContact.of_site(site),
        deliveries=recent_deliveries(site), adding=adding, editors=editors, errors=errors,
        author_errors=author_errors, form=form, shown_secret=shown_secret, outcomes=outcomes,
        recipient_labels=RECIPIENT_LABELS, kinds=KINDS, rule_modes=RULE_MODES, mode_labels=MODE_LABELS,
        digest_modes=DIGEST_MODES,
        mail_waits=not current_app.config["SMTP_URL"], shown_recipient=shown_recipient,
        worker=worker_health()), status


def _site(site_id):
    return site_or_404(site_id)


def _rule(site, rule_id):
    rule = Rule.find(site, rule_id)
    if rule is None:
        abort(404, _("This site has no such rule. It may have been removed already."))
    return rule


@bp.route(f"/sites/<{ID}:site_id>/notifications", methods=["GET", "POST"])
@admin_required
def notifications(site_id):
    site = _site(site_id)
    if request.method == "GET":
        return _page(site)
    try:
        rule = Rule.add(site, **RuleSchema().load(form_data(request.form)))
    except ValidationError as err:
        return _page(site, 400, errors=err.messages)
    except Refused as refused:
        return _page(site, 400, errors={"target": [str(refused)]})
    record("notification_rule_added", site, by=current_user, rule=rule.id, recipient=rule.recipient,
           target=rule.shown_target, hears=rule.hears)
    db.session.commit()
    if rule.recipient == "webhook":
        return _page(site, 201, shown_secret=(rule, rule.secret))
    flash(_("Rule added: %(target)s hears %(what)s.", target=rule.shown_target, what=rule.hears))
    return redirect(url_for("dashboard.notifications", site_id=site.id))


@bp.route(f"/sites/<{ID}:site_id>/notifications/rules/<{ID}:rule_id>/remove", methods=["GET", "POST"])
@admin_required
def notification_rule_remove(site_id, rule_id):
    site = _site(site_id)
    rule = _rule(site, rule_id)
    if request.method == "GET":
        pending = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
            Delivery.rule_id == rule.id, Delivery.state == "pending"))
        return render_template("dashboard/notification_rule_remove.html", site=site, rule=rule, pending=pending)
    shown = f"{rule.shown_target} ({rule.hears})"
    rule_id, cancelled = rule.id, rule.remove()
    record("notification_rule_removed", site, by=current_user, rule=rule_id, target=shown, cancelled=cancelled)
    db.session.commit()
    flash(ngettext("Rule removed: %(rule)s. %(num)d message not yet sent was cancelled.",
                   "Rule removed: %(rule)s. %(num)d messages not yet sent were cancelled.", cancelled, rule=shown))
    return redirect(url_for("dashboard.notifications", site_id=site.id))


@bp.post(f"/sites/<{ID}:site_id>/notifications/rules/<{ID}:rule_id>/secret")
@admin_required
def notification_rule_secret(site_id, rule_id):
    site = _site(site_id)
    rule = _rule(site, rule_id)
    try:
        secret = rule.rotate_secret()
    except Refused as refused:
        abort(400, str(refused))
    record("notification_secret_rotated", site, by=current_user, rule=rule.id, target=rule.shown_target)
    db.session.commit()
    return _page(site, shown_secret=(rule, secret))


@bp.post(f"/sites/<{ID}:site_id>/notifications/authors")
@admin_required
def notification_authors(site_id):
    site = _site(site_id)
    try:
        contact = AuthorContact.set(site, **AuthorContactSchema().load(form_data(request.form)))
    except ValidationError as err:
        return _page(site, 400, author_errors=err.messages)
    except Refused as refused:
        return _page(site, 400, author_errors={"author": [str(refused)]})
    flash(_("Reports on articles by “%(author)s” go to %(address)s.", author=contact.author, address=contact.address))
    return redirect(url_for("dashboard.notifications", site_id=site.id) + "#authors")


@bp.post(f"/sites/<{ID}:site_id>/notifications/authors/<{ID}:contact_id>/remove")
@admin_required
def notification_author_remove(site_id, contact_id):
    site = _site(site_id)
    contact = db.session.scalar(sa.select(AuthorContact).where(
        AuthorContact.id == contact_id, AuthorContact.site_id == site.id))
    if contact is None:
        abort(404, _("This site has no such author contact. It may have been removed already."))
    author = contact.author
    contact.remove()
    db.session.commit()
    flash(_("Contact for “%(author)s” removed.", author=author))
    return redirect(url_for("dashboard.notifications", site_id=site.id) + "#authors")


@bp.post(f"/sites/<{ID}:site_id>/notifications/test")
@admin_required
def notification_test(site_id):
    site = _site(site_id)
    deadline = test_deadline()  # all the rules together, so the request ends in time
    outcomes = [outcome for rule in Rule.of_site(site) for outcome in rule.test(deadline)]
    return _page(site, outcomes=outcomes)


@bp.post(f"/sites/<{ID}:site_id>/notifications/deliveries/<{ID}:delivery_id>/retry")
@admin_required
def delivery_retry(site_id, delivery_id):
    from ..notify.deliveries import retry
    site = _site(site_id)
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.id == delivery_id,
                                                           Delivery.site_id == site.id))
    if delivery is None:
        abort(404, _("This site has no such delivery."))
    if retry(delivery):
        flash(_("Message %(id)s will be tried again now.", id=delivery.id))
    else:
        flash(_("Message %(id)s is %(state)s: only a failed one, or one waiting to be tried again, can be retried now.",
                id=delivery.id, state=delivery.state), "error")
    return redirect(url_for("dashboard.notifications", site_id=site.id) + "#deliveries")


# --- Account: how the logged-in editor hears each site ------------------------------------

def preference_choices(editor):
    """[(site, mode)] for every site the editor sees, their choice or the default."""
    modes = Preference.modes_of(editor)
    return [(site, modes.get(site.id, DEFAULT_MODE)) for site in visible_sites()]


@bp.post("/account/notifications")
@login_required
def account_notifications():
    from .editors import account_page
    editor = current_user._get_current_object()
    sites = visible_sites()
    try:
        chosen = preference_modes(request.form, [site.id for site in sites])
    except ValidationError as err:
        return account_page(preference_errors=err.messages, status=400)
    for site_id, mode in chosen.items():
        Preference.choose(editor, site_id, mode)
    db.session.commit()
    flash(_("Notification choices saved."))
    return redirect(url_for("dashboard.account") + "#notifications")
