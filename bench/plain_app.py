"""The peer for the intake benchmark: a plain Flask-SQLAlchemy app that files a report the
way a commit-per-request app would (the same ReportSchema validation, ORM objects, one
commit per request), served by gunicorn with exactly the settings of ``copydesk serve``.

It answers what Copydesk answers for a new or joining send; it skips rate limits, CORS
and idempotent replays, so it does a little less work than Copydesk does."""

import os

import sqlalchemy as sa
from flask import Flask, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError

from copydesk import logs
from copydesk.db import configure_sqlite, db
from copydesk.models import Report, Site, Submission
from copydesk.schemas import ReportSchema
from copydesk.text import normalize_page_url
from served import serve_like_copydesk

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["COPYDESK_DATABASE_URL"]
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
db.init_app(app)
app.config["SECRET_KEY"] = "bench-only-key-bench-only-key-0123"
logs.init_app(app)  # the access lines copydesk serve writes
with app.app_context():
    if db.engine.dialect.name == "sqlite":
        configure_sqlite(db.engine)
    db.engine.dispose()  # workers are forked: they open their own connections
schema = ReportSchema()


def file_report(site, data):
    page_key = normalize_page_url(data["canonical_url"] or data["url"])
    anchor_key = Report.make_anchor_key(site.id, page_key, data["exact"], data["prefix"], data["suffix"])
    report = db.session.scalar(sa.select(Report).where(Report.group_key == anchor_key))
    joined = report is not None
    if joined:
        report.submission_count += 1
    else:
        report = Report(site=site, group_key=anchor_key, anchor_key=anchor_key, page_url=data["url"],
                        page_key=page_key, canonical_url=data["canonical_url"], title=data["title"],
                        lang=data["lang"], exact=data["exact"], prefix=data["prefix"],
                        suffix=data["suffix"], position=data["position"])
        db.session.add(report)
    db.session.add(Submission(report=report, site_id=site.id, idempotency_key=data["idempotency_key"],
                              joined=joined, comment=data["comment"], suggestion=data["suggestion"],
                              ip_hash=None, user_agent=request.headers.get("User-Agent")))
    db.session.commit()
    return jsonify(id=report.id, joined=joined, count=report.submission_count), 201


@app.post("/api/v1/reports")
def create_report():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(errors={"_request": ["The body must be a JSON object."]}), 400
    try:
        data = schema.load(payload)
    except ValidationError as err:
        return jsonify(errors=err.messages), 422
    for _attempt in range(3):  # a plain app retries what concurrent requests make fail
        site = db.session.scalar(sa.select(Site).where(Site.key == data["site"]))
        if site is None:
            return jsonify(errors={"site": ["Unknown site."]}), 404
        try:
            return file_report(site, data)
        except (IntegrityError, OperationalError):
            db.session.rollback()
    return jsonify(errors={"_request": ["Busy."]}), 503


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


if __name__ == "__main__":
    serve_like_copydesk(app, default_bind="127.0.0.1:8002")
