"""``/healthz``: for load balancers and process supervisors. No auth, no rate limit."""

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .db import db
from .extensions import limiter

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as err:
        db.session.rollback()
        current_app.logger.error("healthz: database unreachable: %s", err.__class__.__name__)
        response = jsonify(status="error", errors={"database": ["The database is unreachable."]})
        response.status_code = 503
    else:
        response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
