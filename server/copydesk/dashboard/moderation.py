"""Moderation: assignment, spam blocks, deleting a report and erasing a submission."""

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..blocks import active_blocks, lift
from ..db import db
from ..models import NO_SUCH_EDITOR, Editor, Refused, SenderBlock, Submission
from ..schemas import parse_whole_number
from . import ID, admin_required, bp, forget_status_counts, report_or_404, scoped


def assignable_editors(report):
    """Who may take ``report``: active editors who see its site (admins, and the site's own
    editors), by name."""
    return db.session.scalars(
        sa.select(Editor).where(Editor.seeing_site(report.site_id))
        .order_by(sa.func.lower(sa.func.coalesce(sa.func.nullif(Editor.name, ""), Editor.email)), Editor.id)).all()


def _back_to(report_id):
    return redirect(url_for("dashboard.report", report_id=report_id))


@bp.post(f"/reports/<{ID}:report_id>/assign")
@login_required
def assign_report(report_id):
    item = report_or_404(report_id)
    chosen = request.form.get("editor", "").strip()
    editor = None
    if chosen:
        number = parse_whole_number(chosen, low=1)
        editor = db.session.get(Editor, number) if number is not None else None
        if editor is None:
            abort(422, str(NO_SUCH_EDITOR))
    try:
        item.assign(editor, by=current_user)
    except Refused as refused:
        db.session.rollback()
        abort(422, str(refused))  # as for an unknown editor: another site's editor stays unnamed
    db.session.commit()
    if editor is None:
        flash(_("Report #%(id)s is unassigned.", id=item.id))
    else:
        flash(_("Report #%(id)s is assigned to %(name)s.", id=item.id, name=editor.display_name))
    return _back_to(item.id)


@bp.route(f"/reports/<{ID}:report_id>/delete", methods=["GET", "POST"])
@admin_required
def report_delete(report_id):
    item = report_or_404(report_id)
    if request.method == "GET":
        return render_template("dashboard/report_delete.html", report=item)
    item.delete(by=current_user)
    db.session.commit()
    forget_status_counts()
    flash(_("Report #%(id)s was deleted with its submissions and history.", id=report_id))
    return redirect(url_for("dashboard.reports"))


@bp.route(f"/reports/<{ID}:report_id>/submissions/<{ID}:submission_id>/erase", methods=["GET", "POST"])
@admin_required
def submission_erase(report_id, submission_id):
    item = report_or_404(report_id)
    submission = db.session.scalar(sa.select(Submission).where(Submission.id == submission_id,
                                                               Submission.report_id == item.id))
    if submission is None:
        abort(404)
    if request.method == "GET":
        return render_template("dashboard/submission_erase.html", report=item, submission=submission)
    report_went = submission.erase(by=current_user)
    db.session.commit()
    if report_went:
        forget_status_counts()
        flash(_("The submission was erased. It was the report's last, so report #%(id)s was deleted too.",
                id=report_id))
        return redirect(url_for("dashboard.reports"))
    flash(_("The submission was erased."))
    return _back_to(report_id)


@bp.get("/blocks")
@admin_required
def blocks():
    shown = active_blocks(scoped(sa.select(SenderBlock), SenderBlock.site_id))
    return render_template("dashboard/blocks.html", blocks=shown)


@bp.post(f"/blocks/<{ID}:block_id>/lift")
@admin_required
def block_lift(block_id):
    block = db.session.get(SenderBlock, block_id)
    if block is None:
        abort(404)
    lift(block, by=current_user)
    db.session.commit()
    flash(_("The block was lifted: the sender's reports are filed again."))
    return redirect(url_for("dashboard.blocks"))
