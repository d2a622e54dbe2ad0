"""The OpenAPI document, generated from the marshmallow schemas the API uses."""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .schemas import ErrorSchema, ReportCreatedSchema, ReportSchema, WidgetConfigSchema


def _errors(*codes):
    texts = {400: "Malformed JSON, or a body that could not be read.", 403: "Origin not allowed for the site.",
             404: "Unknown site.", 413: "Body too large.", 415: "Not application/json.",
             422: "A field is invalid, or the page or selection does not suit the site; "
                  "errors and codes name the field.",
             429: "Rate limited (code rate_limited_address or rate_limited_site); see Retry-After."}
    return {str(c): {"description": texts[c],
                     "content": {"application/json": {"schema": "Error"}}} for c in codes}


def build_spec():
    spec = APISpec(title="Copydesk API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Typo reports from the Copydesk widget."})
    spec.components.schema("Report", schema=ReportSchema)
    spec.components.schema("ReportCreated", schema=ReportCreatedSchema)
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema("WidgetConfig", schema=WidgetConfigSchema)
    spec.path(path="/api/v1/reports", operations={
        "post": {
            "operationId": "createReport",
            "summary": "File a typo report (idempotent per idempotency_key).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": "Report"}}},
            "responses": {
                "201": {"description": "Filed, or a replay of an earlier send with the same key.",
                        "content": {"application/json": {"schema": "ReportCreated"}}},
                **_errors(400, 403, 404, 413, 415, 422, 429),
            },
        },
    })
    spec.path(path="/api/v1/sites/{key}/widget-config", operations={
        "get": {
            "operationId": "widgetConfig",
            "summary": "Limits and language the widget needs for a site.",
            "parameters": [{"name": "key", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 64}}],
            "responses": {
                "200": {"description": "The site's widget settings.",
                        "content": {"application/json": {"schema": "WidgetConfig"}}},
                **_errors(403, 404, 429),
            },
        },
    })
    return spec.to_dict()
