"""The public JSON API the widget talks to: ``/api/v1``."""

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from flask_limiter import RateLimitExceeded
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest, HTTPException

from . import intake, limits
from .db import db
from .extensions import limiter, retry_after, wait_words
from .models import Site
from .schemas import (MAX_COMMENT, MAX_CONTEXT, ReportCreatedSchema, ReportSchema, WidgetConfigSchema,
                      error_codes)
from .text import storable

bp = Blueprint("api", __name__, url_prefix="/api/v1")

report_schema = ReportSchema()
created_schema = ReportCreatedSchema()
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
               415: "unsupported_media_type"}


def error_response(status, errors, codes=None):
    """Every API error has one shape: ``{"errors": {field: [messages]}, "codes": {field: [codes]}}``.
    A plain message is about the whole request (``_request``); codes default to the status's."""
    if isinstance(errors, str):
        errors = {"_request": [errors]}
    if codes is None:
        codes = {field: [_HTTP_CODES.get(status, "error")] * len(texts) for field, texts in errors.items()}
    response = jsonify(errors=errors, codes=codes)
    response.status_code = status
    return response


@bp.errorhandler(intake.IntakeError)
@bp.errorhandler(limits.RateLimited)
@bp.errorhandler(ValidationError)
@bp.errorhandler(RateLimitExceeded)
@bp.app_errorhandler(HTTPException)
def handle_error(error):
    """The one place API errors are answered."""
    if isinstance(error, limits.RateLimited):
        # The widget retries a send until it is acknowledged: a retry of an accepted send is
        # answered whatever the limits say, so it stops, and nothing is stored twice.
        replay = _accepted_replay()
        if replay is not None:
            return _answer(replay, error.window, retry_after=error.retry_after)
        response = error_response(429, {error.field: [error.message]}, {error.field: [error.code]})
        return limits.add_headers(response, error.window, retry_after=error.retry_after)
    if isinstance(error, intake.IntakeError):
        return error_response(error.status, {error.field: [error.message]}, {error.field: [error.code]})
    if isinstance(error, ValidationError):
        return error_response(422, error.messages, error_codes(report_schema, error.messages))
    if isinstance(error, RateLimitExceeded):  # a Flask-Limiter limit (widget-config)
        seconds = retry_after()
        response = error_response(429, f"{error.description} Please try again in {wait_words(seconds)}.",
                                  {"_request": ["rate_limited_address"]})
        response.headers["Retry-After"] = str(seconds)
        return response
    # Under /api/ every error is JSON, including routing errors no view saw.
    if not request.path.startswith(bp.url_prefix + "/"):
        from .dashboard import error_page  # everywhere else an error is a dashboard page
        return error_page(error)
    response = error_response(error.code, error.description)
    if error.code == 405:
        response.headers["Allow"] = ", ".join(error.valid_methods or [])
    return response


def _origin_known(origin):
    """Is this Origin allowed for any site? Decides preflights and error responses
    before the body (and so the site) is known."""
    if not origin or not storable(origin):
        return False
    # The LIKE finds a site cheaply; a quoted origin can only match across two entries
    # if it holds a quote itself, and then the site's own rule refuses it.
    site = db.session.scalar(
        sa.select(Site).where(Site.allowed_origins_json.contains(f'"{origin}"', autoescape=True)).limit(1))
    return site is not None and site.allows(origin)


def _allow_origin(response, origin):
    # Only allowed origins may read our answers; never with cookies.
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


@bp.before_request
def _guard_body():
    if request.method != "POST":
        return None
    # Refuse big bodies before reading them; also enforced while streaming.
    request.max_content_length = current_app.config["MAX_BODY_BYTES"]
    if request.content_length is not None and request.content_length > request.max_content_length:
        return error_response(413, f"The request body is larger than {request.max_content_length} bytes.")
    if request.mimetype != "application/json":
        return error_response(415, "Send the report as application/json.")
    return None


@bp.after_request
def _cors(response):
    # A view that knew the site has decided; a 403 refuses the origin; otherwise any
    # site's allowlist decides.
    origin = request.headers.get("Origin")
    if (origin and response.status_code != 403 and "Access-Control-Allow-Origin" not in response.headers
            and _origin_known(origin)):
        _allow_origin(response, origin)
    response.vary.add("Origin")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/reports", methods=["OPTIONS"])
def reports_preflight():
    if not _origin_known(request.headers.get("Origin")):
        return error_response(403, "This origin may not send reports.", {"_request": ["origin_refused"]})
    response = current_app.response_class(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _json_object():
    """The request body as a JSON object; raises BadRequest (or 413 while streaming)."""
    try:
        request.get_data(cache=True)
    except HTTPException:
        raise
    except Exception as error:  # noqa: BLE001 - each WSGI server has its own error for a broken chunked body
        raise BadRequest("The body could not be read.") from error
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser's stack
        payload = None
    if payload is None:
        raise BadRequest("The body is not valid JSON.")
    if not isinstance(payload, dict):
        raise BadRequest("The body must be a JSON object.")
    return payload


@bp.post("/reports")
@limiter.exempt  # its limits are counted in limits.py, per address and per site
def create_report():
    # Counted before any database work, so a flood costs little.
    shown = limits.count_send()
    data = report_schema.load(_json_object())
    origin = request.headers.get("Origin")
    filed = intake.file_report(data, origin, intake.hash_ip(request.remote_addr), request.headers.get("User-Agent"))
    return _answer(filed, shown, origin)


def _accepted_replay():
    """The answer already given to this send, if it is a valid send whose idempotency
    key was accepted before; else None."""
    try:
        data = report_schema.load(_json_object())
        site = intake.find_site(data["site"])
        intake.check_send(site, request.headers.get("Origin"), data)
    except (BadRequest, ValidationError, intake.IntakeError):
        return None
    return intake.find_replay(site, data["idempotency_key"])


def _answer(filed, window, origin=None, retry_after=None):
    response = jsonify(created_schema.dump({"id": filed.id, "joined": filed.joined, "count": filed.count}))
    response.status_code = 201
    if origin:
        _allow_origin(response, origin)
    return limits.add_headers(response, window, retry_after)


@bp.get("/sites/<key>/widget-config")
@limiter.limit(lambda: current_app.config["RATELIMIT_WIDGET_CONFIG"], scope="widget-config",
               error_message="Too many requests from your address.")
def widget_config(key):
    """The site's language (null: each page's own), limits, and whether to offer "tell me when
    it's fixed" and the kinds of error, read by the widget's dialog when it opens."""
    if not storable(key):
        return error_response(404, "Unknown site.")
    site = db.first_or_404(sa.select(Site).where(Site.key == key), description="Unknown site.")
    # Readable only from the site's own pages, like its reports.
    origin = request.headers.get("Origin")
    if origin and not site.allows(origin):
        return error_response(403, "This origin may not read this site's settings.",
                              {"_request": ["origin_refused"]})
    response = jsonify(WidgetConfigSchema().dump({
        "lang": site.language, "max_selection": site.max_selection,
        "max_context": MAX_CONTEXT, "max_comment": MAX_COMMENT, "followup": site.reader_followup,
        "kinds": site.kinds_enabled}))
    return _allow_origin(response, origin) if origin else response


@bp.get("/openapi.json")
def openapi():
    from .openapi import build_spec
    return jsonify(build_spec())
