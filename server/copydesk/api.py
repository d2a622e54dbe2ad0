"""The public JSON API the widget talks to: ``/api/v1``."""

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from flask_limiter import RateLimitExceeded
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from .db import db
from .extensions import check_report_limits, limiter, report_limit_headers, retry_after, wait_words
from .intake import file_report, find_replay, find_site, hash_ip
from .models import Site
from .schemas import MAX_COMMENT, MAX_CONTEXT, ReportCreatedSchema, WidgetConfigSchema, load_report
from .text import storable

bp = Blueprint("api", __name__, url_prefix="/api/v1")

created_schema = ReportCreatedSchema()


def error_response(status, errors):
    """Every API error has one shape: ``{"errors": {field: [messages]}}``."""
    if isinstance(errors, str):
        errors = {"_request": [errors]}
    response = jsonify(errors=errors)
    response.status_code = status
    return response


@bp.app_errorhandler(HTTPException)
def handle_http_error(error):
    # Under /api/ every error is JSON, including routing errors no view saw.
    if not request.path.startswith(bp.url_prefix + "/"):
        return error
    response = error_response(error.code, error.description)
    if error.code == 405:
        response.headers["Allow"] = ", ".join(error.valid_methods or [])
    return response


def _origin_known(origin):
    """Is this Origin allowed for any site? Decides preflights and error responses
    before the body (and so the site) is known."""
    if not origin or not storable(origin):
        return False
    return db.session.scalar(
        sa.select(Site.id).where(Site.allowed_origins_json.contains(f'"{origin}"', autoescape=True))
        .limit(1)) is not None


def _cors_origin():
    """The Origin to answer with CORS headers, if any. A view that knows the site
    decides (g.cors_origin); otherwise any site's allowlist does, looked up only
    when needed so the accepted-report path makes no extra query."""
    if "cors_origin" not in g:
        origin = request.headers.get("Origin")
        g.cors_origin = origin if origin and _origin_known(origin) else None
    return g.cors_origin


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
    # Only allowed origins may read our answers; never with cookies.
    origin = _cors_origin()
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    response.vary.add("Origin")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def _rate_limit_headers(response):
    if "report_limits" in g:
        report_limit_headers(response)
    return response


@bp.route("/reports", methods=["OPTIONS"])
def reports_preflight():
    if not _cors_origin():
        return error_response(403, "This origin may not send reports.")
    response = current_app.response_class(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _accepted_replay():
    """The answer already given to this send, if its idempotency key was accepted before."""
    try:
        payload = request.get_json(silent=True)
    except RecursionError:
        return None
    if not isinstance(payload, dict):
        return None
    site_key, key = payload.get("site"), payload.get("idempotency_key")
    if not (isinstance(site_key, str) and isinstance(key, str) and storable(site_key) and storable(key)):
        return None
    site = find_site(site_key)
    origin = request.headers.get("Origin")
    if site is None or (origin and origin not in site.allowed_origins):
        return None
    return find_replay(site.id, key)


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error):
    # The widget retries a send until it is acknowledged: a retry of a stored report is
    # answered whatever the limits say, so it stops retrying and nothing is stored twice.
    if request.endpoint == "api.create_report":
        replay = _accepted_replay()
        if replay:
            return jsonify(created_schema.dump(replay)), 201
    seconds = retry_after()
    response = error_response(429, f"{error.description} Please try again in {wait_words(seconds)}.")
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.post("/reports")
def create_report():
    # Every send counts per address, before any database work, so a flood costs little;
    # per site only stored reports count, so junk sent with a site's key cannot block its readers.
    check_report_limits()
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser's stack
        payload = None
    if payload is None:
        return error_response(400, "The body is not valid JSON.")
    if not isinstance(payload, dict):
        return error_response(400, "The body must be a JSON object.")

    try:
        data, errors = load_report(payload), None
    except ValidationError as err:
        data, errors = None, err.messages
    if data is not None and not data["website"]:
        return _file(data)

    # The site is checked first, then the fields, then the site's own length limit.
    site_key = payload.get("site")
    site = None
    if isinstance(site_key, str) and site_key:
        site = find_site(site_key) if storable(site_key) else None
        if site is None:
            return error_response(404, {"site": ["Unknown site."]})
        origin = request.headers.get("Origin")
        if origin and origin not in site.allowed_origins:
            g.cors_origin = None
            return _origin_refused(origin)
        if origin:
            g.cors_origin = origin
    if errors is not None:
        return error_response(422, errors)
    if len(data["exact"]) > site.max_selection:
        return _too_long(site.max_selection)
    # Honeypot filled: only bots see this field. Answer as if accepted, store nothing.
    current_app.logger.info("honeypot: dropped a report for site %s", site.id)
    return jsonify(id=0, joined=False, count=0), 201


def _origin_refused(origin):
    return error_response(403, {"_request": [f"The origin {origin} may not send reports for this site."]})


def _too_long(max_selection):
    return error_response(422, {"exact": [f"Select at most {max_selection} characters."]})


def _file(data):
    """Store a valid send (a group commit checks its site): the same answers, in the same
    order of checks, as the path above."""
    origin = request.headers.get("Origin")
    outcome, value = file_report(data["site"], origin, data, hash_ip(request.remote_addr),
                                 request.headers.get("User-Agent"))
    if outcome == "unknown_site":
        return error_response(404, {"site": ["Unknown site."]})
    if outcome == "origin":
        g.cors_origin = None
        return _origin_refused(origin)
    if origin:
        g.cors_origin = origin
    if outcome == "too_long":
        return _too_long(value)
    g.report_stored = not value["replay"]
    # A replay answers the first send's report and "joined" flag, with the report's count now.
    return jsonify(created_schema.dump(value)), 201


@bp.get("/sites/<key>/widget-config")
@limiter.limit(lambda: current_app.config["RATELIMIT_WIDGET_CONFIG"], scope="widget-config",
               error_message="Too many requests from your address.")
def widget_config(key):
    if not storable(key):
        return error_response(404, "Unknown site.")
    site = db.first_or_404(sa.select(Site).where(Site.key == key), description="Unknown site.")
    return jsonify(WidgetConfigSchema().dump({
        "lang": site.language, "max_selection": site.max_selection,
        "max_context": MAX_CONTEXT, "max_comment": MAX_COMMENT}))


@bp.get("/openapi.json")
def openapi():
    from .openapi import build_spec
    return jsonify(build_spec())
