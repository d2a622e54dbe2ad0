"""Property-based fuzzing of the public API from its own OpenAPI document (schemathesis).

Every generated request, valid or not, must get a documented status code, never a 5xx,
with a body that matches the documented schema; data the document calls invalid
must be refused.
"""

import collections
import re
import string
from urllib.parse import quote

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from conftest import report_body, rows
from copydesk.models import Report, Submission

SITE_KEY = "fuzz-site-key-0001"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
# A body over the size cap is refused with 413 before its fields are read: also a refusal.
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": [400, 403, 404, 413, 415, 422, 429]}}})
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE

page_urls = st.builds("https://daily.example.com/{}".format,
                      st.text(string.ascii_letters + string.digits + "-/._~%?=&", max_size=60))
# Without help, a generated site key or page URL is almost never real, and no request
# would get past the 404 or the URL check: most cases carry the real site and real URLs.
realism = st.fixed_dictionaries({"site": st.sampled_from([SITE_KEY, SITE_KEY, None]),
                                 "url": st.one_of(st.none(), page_urls, page_urls, page_urls),
                                 "canonical_url": st.one_of(st.none(), page_urls, page_urls),
                                 # A filled honeypot is answered 201 and stored nowhere: mostly empty.
                                 "website": st.sampled_from([None, "", ""])})


def fuzz_settings(max_examples):
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


@pytest.fixture
def app_config(app_config):
    """Limits out of the way: the fuzzer sends hundreds of requests a second."""
    return {**app_config, "RATELIMIT_WIDGET_CONFIG": "10000 per minute"}


@pytest.fixture
def api_schema(app, make_site):
    """The document as the app serves it, with one real site to file reports on."""
    make_site(name="Fuzz", origins=["https://daily.example.com"], key=SITE_KEY)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)


def _realistic(case, overrides, mode):
    if mode is POSITIVE and overrides["site"] and "key" in (case.path_parameters or {}):
        case.path_parameters["key"] = overrides["site"]
    body = case.body
    if not isinstance(body, dict):
        return
    for field, value in overrides.items():
        if value is None or body.get(field) is None:
            continue
        # A negative case may be invalid only in a URL field, or in the site key: keep those as
        # generated, and only swap a site key that is already a valid string for the real one.
        valid_key = isinstance(body[field], str) and 1 <= len(body[field]) <= 64
        if mode is NEGATIVE and (field != "site" or not valid_key):
            continue
        body[field] = value


def run_cases(schema, method, path, mode, max_examples, statuses):
    operation = schema[path][method]

    @fuzz_settings(max_examples)
    @given(case=operation.as_strategy(generation_mode=mode), overrides=realism)
    def check(case, overrides):
        _realistic(case, overrides, mode)
        response = case.call_and_validate(checks=CHECKS)
        statuses[response.status_code] += 1

    check()


def test_report_api_conforms_to_its_document_for_generated_reports(api_schema, app):
    positive, negative = collections.Counter(), collections.Counter()
    run_cases(api_schema, "POST", "/api/v1/reports", POSITIVE, 150, positive)
    run_cases(api_schema, "POST", "/api/v1/reports", NEGATIVE, 100, negative)
    assert sum(positive.values()) + sum(negative.values()) >= 250, (positive, negative)
    # The generated data reached both the filing path and field validation.
    assert positive[201] >= 20 and positive[422] >= 10, positive
    assert negative[201] == 0 and negative[422] >= 20, negative
    filed = rows(app, sa.select(sa.func.count()).select_from(Submission))[0][0]
    reports = rows(app, sa.select(sa.func.count()).select_from(Report))[0][0]
    assert filed >= 10 and 1 <= reports <= filed


def test_widget_config_conforms_to_its_document_for_generated_keys(api_schema):
    statuses = collections.Counter()
    run_cases(api_schema, "GET", "/api/v1/sites/{key}/widget-config", POSITIVE, 40, statuses)
    run_cases(api_schema, "GET", "/api/v1/sites/{key}/widget-config", NEGATIVE, 30, statuses)
    assert sum(statuses.values()) >= 50 and statuses[404] >= 10 and statuses[200] >= 5, statuses


# What fuzzing and probing found: each of these was a 500 (or bad data stored) before.

def valid_body(site_key, **overrides):
    return report_body(site_key, **{"idempotency_key": "fuzz-regression-1", **overrides})


@pytest.mark.parametrize("field, value", [
    ("url", "https://daily.example.com/\x00"),
    ("url", "https://\x00/"), ("url", "https://daily.example.com/\ud800"),
    ("url", "https://daily.example.com:99999/"),
    ("url", "http://:80/"), ("url", "http:// /"), ("url", "https://daily.example.com/\x7f"),
    ("idempotency_key", "fuzz-regression-" + "k" * 48 + "\n"),
])
def test_unstorable_or_malformed_value_is_422_naming_the_field(client, app, site_key, field, value):
    response = client.post("/api/v1/reports", json=valid_body(site_key, **{field: value}))
    assert response.status_code == 422
    assert list(response.json["errors"]) == [field]
    assert rows(app, sa.select(Report)) == []


@pytest.mark.parametrize("site", ["fuzz\x00site", "fuzz\ud800site"])
def test_nul_or_surrogate_in_site_key_is_unknown_site(client, app, site_key, site):
    response = client.post("/api/v1/reports", json=valid_body(site_key, site=site))
    assert response.status_code == 404
    assert response.json == {"errors": {"site": ["Unknown site."]}, "codes": {"site": ["unknown_site"]}}


def test_unpaired_surrogates_in_reader_text_are_dropped_not_a_500(client, app, site_key):
    # A widget slicing 64 UTF-16 units of context can cut an emoji in half.
    response = client.post("/api/v1/reports", json=valid_body(
        site_key, prefix="The \ud83d\ude00 keeper \ud83d", exact="principle\udfff keeper",
        comment="half \ude00emoji"))
    assert response.status_code == 201
    [(report,)] = rows(app, sa.select(Report))
    assert (report.prefix, report.exact) == ("The \U0001F600 keeper ", "principle keeper")
    [(submission,)] = rows(app, sa.select(Submission))
    assert submission.comment == "half emoji"


def test_json_nested_too_deep_is_400(client, site_key):
    response = client.post("/api/v1/reports", data="[" * 5000 + "]" * 5000, content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"errors": {"_request": ["The body is not valid JSON."]},
                             "codes": {"_request": ["bad_request"]}}


def test_nul_in_origin_header_is_refused_not_a_500(client, site_key):
    response = client.post("/api/v1/reports", json=valid_body(site_key),
                           headers={"Origin": "https://daily.example.com\x00"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("key", ["a%00b", "%00"])
def test_nul_in_widget_config_key_is_404(client, site_key, key):
    response = client.get(f"/api/v1/sites/{key}/widget-config")
    assert response.status_code == 404
    assert response.json["errors"] == {"_request": ["Unknown site."]}


# --- The dashboard: every GET route, every parameter, never a 5xx ----------------------

DASHBOARD_WORDS = ["open", "new", "confirmed", "closed", "all", "fixed", "spam", "most", "newest", ""]
query_values = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    st.integers(-5, 100).map(str), st.integers(2**31 - 5, 10**25).map(str),
    st.dates().map(str),
    st.builds("{}:{}".format, st.integers(-1, 10**25), st.integers(-1, 10**25)),
    st.sampled_from(DASHBOARD_WORDS))
numbers = st.one_of(st.integers(-5, 100), st.integers(2**31 - 5, 10**25))
# Values of the right kind for each parameter, so that cases get past validation too.
dashboard_values = {
    "site": numbers.map(str), "status": st.sampled_from(["open", "new", "confirmed", "closed", "all"]),
    "sort": st.sampled_from(["newest", "most"]),
    "resolution": st.sampled_from(["fixed", "not_an_error", "spam", "duplicate", ""]),
    "since": st.dates().map(str), "until": st.dates().map(str),
    "q": st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    "after": st.one_of(numbers.map(str), st.builds("{}:{}".format, numbers, numbers)),
    "before": st.one_of(numbers.map(str), st.builds("{}:{}".format, numbers, numbers)),
    "next": st.sampled_from(["/reports", "//evil.example", "https://evil.example/", "/\\evil", ""]),
}
path_values = st.one_of(st.integers(-5, 10**25).map(str), st.text(st.characters(exclude_categories=("Cs",)),
                                                                  min_size=1, max_size=12))


def dashboard_get_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules()
                   if rule.endpoint.split(".")[0] in ("dashboard", "auth") and "GET" in rule.methods),
                  key=lambda rule: rule.rule)


@pytest.mark.parametrize("role", ["anonymous", "editor", "admin"])
def test_every_dashboard_get_route_and_parameter_answers_without_a_5xx(app, client, auth, make_editor,
                                                                       site_key, role):
    from copydesk.schemas import ReportFilterSchema

    client.post("/api/v1/reports", json=valid_body(site_key), headers={"Origin": "https://daily.example.com"})
    if role != "anonymous":
        make_editor(role=role)
        assert auth.login().status_code == 302
    rules = dashboard_get_rules(app)
    params = sorted(ReportFilterSchema().fields) + ["next", "endpoint", "_external", "_anchor", "values"]
    statuses = collections.Counter()

    reports = next(rule for rule in rules if rule.endpoint == "dashboard.reports")

    # Half the cases on the report list, the route with the most parameters.
    @fuzz_settings(150)
    @given(rule=st.one_of(st.just(reports), st.sampled_from(rules)), path=st.lists(path_values, min_size=3, max_size=3),
           query=st.fixed_dictionaries({}, optional={
               name: dashboard_values.get(name, query_values) for name in params}),
           wild=st.dictionaries(st.one_of(st.sampled_from(params), st.text(max_size=8)), query_values,
                                max_size=1))
    def check(rule, path, query, wild):
        values = iter(path)
        url = re.sub(r"<[^>]+>", lambda _: quote(next(values), safe=""), rule.rule)
        response = client.get(url, query_string={**query, **wild})
        statuses[response.status_code] += 1
        assert response.status_code < 500, (url, query, response.text[:300])

    check()
    assert sum(statuses.values()) >= 150
    if role != "anonymous":  # generated data got past validation as well as into it
        assert statuses[200] >= 10 and statuses[400] >= 10, statuses


origin_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.builds("{}://{}{}{}".format, st.sampled_from(["http", "https", "ftp", "HTTPS", ""]),
              st.sampled_from(["", "user@", ":pw@", "[", "*."]),
              st.one_of(st.from_regex(r"[a-zA-Z0-9.-]{0,20}", fullmatch=True),
                        st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12),
                        st.just("[::1"), st.just("[::1]")),
              st.one_of(st.just(""), st.integers(-1, 100_000).map(":{}".format), st.just("/path"),
                        st.just(":８０"))))


@fuzz_settings(400)
@given(origins=st.lists(origin_text, min_size=1, max_size=3))
def test_site_origins_are_refused_or_stored_as_a_browser_sends_them(origins):
    """Whatever is typed into the site form (or `copydesk sites add --origin`): a clear
    refusal, or origins that load again unchanged (normalised once, for good)."""
    from marshmallow import ValidationError

    from copydesk.schemas import SiteSchema
    try:
        stored = SiteSchema().load({"name": "Fuzz", "origins": "\n".join(origins)})["origins"]
    except ValidationError as err:
        assert set(err.messages) <= {"origins", "name"}
        return
    for origin in stored:
        assert re.fullmatch(r"https?://[a-z0-9.\-\[\]:]+", origin), origin
    assert SiteSchema().load({"name": "Fuzz", "origins": "\n".join(stored)})["origins"] == stored
