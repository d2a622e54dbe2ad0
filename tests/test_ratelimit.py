"""Abuse controls on the widget's API: rate limits per client address and per site
(with replays, proxies, settings) and the honeypot field."""

import logging
import math
import re

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, report_body, rows, with_settings
from copydesk.db import db
from copydesk.models import Report, Submission

READER = "203.0.113.5"
OTHER_READER = "198.51.100.7"
PROXY = "10.0.0.2"
MESSAGE = re.compile(r"^(?P<what>.+)\. Please try again in (?P<n>\d+) (?P<unit>minute|minutes|hours)\.$")


def send(client, site_key, key, ip=READER, headers=None, **fields):
    return client.post("/api/v1/reports", json=report_body(site_key, idempotency_key=key, **fields),
                       headers={"Origin": ORIGIN, **(headers or {})}, environ_base={"REMOTE_ADDR": ip})


def submissions(app):
    return sorted(row.idempotency_key for row in rows(app, sa.select(Submission.idempotency_key)))


def assert_rate_limited(response, what, window_seconds):
    assert response.status_code == 429
    assert response.content_type == "application/json"
    [message] = response.json["errors"]["_request"]
    assert set(response.json["errors"]) == {"_request"}
    code = {"Too many reports from your address": "rate_limited_address",
            "This site is receiving too many reports right now": "rate_limited_site"}.get(what, "rate_limited_address")
    assert response.json["codes"] == {"_request": [code]}
    match = MESSAGE.match(message)
    assert match, message
    assert match["what"] == what
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= window_seconds
    # The words and the header tell the same wait (a second may pass between them).
    assert int(match["n"]) in (math.ceil(retry_after / 60), math.ceil((retry_after + 1) / 60))
    # The widget on an allowed origin can read the answer and its Retry-After.
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


@with_settings(RATELIMIT_REPORTS_PER_IP="3 per 5 minutes")
def test_flood_from_one_address_gets_429_with_retry_after(app, client, site_key):
    for n in range(3):
        assert send(client, site_key, f"reader-key-{n}").status_code == 201
    refused = send(client, site_key, "reader-key-3")
    assert_rate_limited(refused, "Too many reports from your address", 300)
    assert (refused.headers["X-RateLimit-Limit"], refused.headers["X-RateLimit-Remaining"]) == ("3", "0")
    assert re.search(r"try again in [1-5] minutes?\.", refused.json["errors"]["_request"][0])
    assert submissions(app) == ["reader-key-0", "reader-key-1", "reader-key-2"]


@with_settings(RATELIMIT_REPORTS_PER_IP="3 per 5 minutes")
def test_flood_from_one_address_is_limited_across_sites(app, client, site_key, make_site):
    other_key = make_site(name="Weekly", origins=[ORIGIN])
    assert send(client, site_key, "reader-key-0").status_code == 201
    assert send(client, other_key, "reader-key-1").status_code == 201
    assert send(client, site_key, "reader-key-2").status_code == 201
    assert send(client, other_key, "reader-key-3").status_code == 429
    assert len(submissions(app)) == 3


@with_settings(RATELIMIT_REPORTS_PER_IP="2 per 5 minutes")
def test_flood_from_one_address_does_not_block_other_readers(app, client, site_key):
    codes = [send(client, site_key, f"flooder-{n:04}").status_code for n in range(3)]
    assert codes == [201, 201, 429]
    assert send(client, site_key, "reader-0001", ip=OTHER_READER).status_code == 201
    assert submissions(app) == ["flooder-0000", "flooder-0001", "reader-0001"]


@with_settings(RATELIMIT_REPORTS_PER_IP="2 per 5 minutes")
def test_spoofed_x_forwarded_for_is_ignored_without_trusted_proxies(app, client, site_key):
    codes = [send(client, site_key, f"spoofer-{n:04}", headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code
             for n in range(4)]
    assert codes == [201, 201, 429, 429]


@with_settings(RATELIMIT_REPORTS_PER_IP="2 per 5 minutes", TRUSTED_PROXIES=1)
def test_x_forwarded_for_names_the_reader_behind_a_trusted_proxy(app, client, site_key):
    from copydesk.intake import hash_ip

    def via_proxy(key, reader):
        return send(client, site_key, key, ip=PROXY, headers={"X-Forwarded-For": reader})

    assert via_proxy("reader-a-0", READER).status_code == 201
    assert via_proxy("reader-a-1", READER).status_code == 201
    assert via_proxy("reader-a-2", READER).status_code == 429
    # The same proxy address, another reader: that reader's own budget.
    assert via_proxy("reader-b-0", OTHER_READER).status_code == 201
    with app.test_request_context():
        expected = {hash_ip(READER), hash_ip(OTHER_READER)}
    assert {row.ip_hash for row in rows(app, sa.select(Submission.ip_hash))} == expected


@with_settings(RATELIMIT_REPORTS_PER_SITE="3 per 5 minutes")
def test_flood_on_one_site_from_many_addresses_gets_429(app, client, site_key, make_site):
    for n in range(3):
        assert send(client, site_key, f"reader-{n:04}", ip=f"192.0.2.{n}").status_code == 201
    refused = send(client, site_key, "reader-0003", ip="192.0.2.3")
    assert_rate_limited(refused, "This site is receiving too many reports right now", 300)
    other_key = make_site(name="Weekly", origins=[ORIGIN])
    assert send(client, other_key, "reader-0004", ip="192.0.2.4").status_code == 201
    assert len(submissions(app)) == 4


@with_settings(RATELIMIT_REPORTS_PER_SITE="2 per 5 minutes")
def test_junk_sent_with_a_site_key_does_not_use_up_the_sites_budget(app, client, site_key):
    for n in range(5):
        assert send(client, site_key, f"junk-{n:04}", ip=f"192.0.2.{n}", url="not a url").status_code == 422
        assert send(client, site_key, f"bot-{n:05}", ip=f"192.0.2.{n}", website="http://spam").status_code == 201
    assert send(client, site_key, "reader-0001").status_code == 201
    for _ in range(3):  # the widget retrying an acknowledged send
        assert send(client, site_key, "reader-0001").status_code == 201
    assert send(client, site_key, "reader-0002").status_code == 201
    assert send(client, site_key, "reader-0003").status_code == 429
    assert submissions(app) == ["reader-0001", "reader-0002"]


@pytest.mark.parametrize("settings", [
    {"RATELIMIT_REPORTS_PER_IP": "2 per 5 minutes"},
    {"RATELIMIT_REPORTS_PER_SITE": "2 per 5 minutes"},
], ids=["ip-limit", "site-limit"])
def test_retry_of_an_accepted_report_is_answered_over_the_limit(app, client, site_key):
    first = send(client, site_key, "reader-0001")
    assert send(client, site_key, "reader-0002", exact="four-hour").status_code == 201
    assert send(client, site_key, "reader-0003").status_code == 429
    # The answer was lost on the way; the widget retries and must be told it landed.
    retry = send(client, site_key, "reader-0001")
    assert retry.status_code == 201
    assert retry.json == first.json == {"id": 1, "joined": False, "count": 1}
    assert retry.headers["Access-Control-Allow-Origin"] == ORIGIN
    # A key that was refused is no way around the limit, nor is a key never sent.
    assert send(client, site_key, "reader-0003").status_code == 429
    assert send(client, site_key, "never-sent-0009").status_code == 429
    assert submissions(app) == ["reader-0001", "reader-0002"]


@with_settings(RATELIMIT_REPORTS_PER_IP="2 per 5 minutes")
def test_retry_over_the_limit_from_another_origin_is_not_answered(app, client, site_key, make_site):
    make_site(name="Other", origins=["https://other.example.com"])
    assert send(client, site_key, "reader-0001").status_code == 201
    assert send(client, site_key, "reader-0002").status_code == 201
    retry = send(client, site_key, "reader-0001", headers={"Origin": "https://other.example.com"})
    assert retry.status_code == 429
    assert "id" not in retry.json


@with_settings(RATELIMIT_REPORTS_PER_IP="3 per 5 minutes")
def test_retry_below_the_ip_limit_counts_like_any_send(app, client, site_key):
    # Counted before the body is read, so a flood costs nothing but a counter increment.
    assert send(client, site_key, "reader-0001").status_code == 201
    assert send(client, site_key, "reader-0001").status_code == 201
    assert send(client, site_key, "reader-0002").status_code == 201
    assert send(client, site_key, "reader-0003").status_code == 429
    assert submissions(app) == ["reader-0001", "reader-0002"]


@with_settings(RATELIMIT_WIDGET_CONFIG="2 per minute")
def test_widget_config_flood_from_one_address_gets_429(client, site_key):
    def get(ip=READER):
        return client.get(f"/api/v1/sites/{site_key}/widget-config", headers={"Origin": ORIGIN},
                          environ_base={"REMOTE_ADDR": ip})
    assert [get().status_code for _ in range(2)] == [200, 200]
    refused = get()
    assert_rate_limited(refused, "Too many requests from your address", 60)
    assert get(OTHER_READER).status_code == 200


def test_limits_are_read_from_copydesk_environment_variables(monkeypatch, app_config, site_key):
    from copydesk import create_app
    from copydesk.db import db
    # The suite's huge limits come in through test_config; drop this one to see the environment's.
    del app_config["RATELIMIT_REPORTS_PER_IP"]
    monkeypatch.setenv("COPYDESK_RATELIMIT_REPORTS_PER_IP", "1 per hour")
    app = create_app(app_config)
    try:
        client = app.test_client()
        assert app.config["RATELIMIT_REPORTS_PER_IP"] == "1 per hour"
        assert send(client, site_key, "reader-0001").status_code == 201
        refused = send(client, site_key, "reader-0002")
        assert refused.status_code == 429
        assert 3000 < int(refused.headers["Retry-After"]) <= 3600
        assert refused.json["errors"]["_request"][0].endswith("try again in 60 minutes.")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_honeypot_filled_by_a_bot_cannot_tell_its_answer_from_a_real_one(app, client, site_key, caplog):
    caplog.set_level(logging.INFO, logger=app.logger.name)
    real = send(client, site_key, "reader-0001")
    bot = send(client, site_key, "bot-key-0001", exact="four-hour", website="https://cheap-pills.example")
    # What a second real report would have been told: the next id, a new report, one send.
    assert (bot.status_code, bot.content_type) == (real.status_code, real.content_type) == (201, "application/json")
    assert bot.json == {"id": real.json["id"] + 1, "joined": False, "count": 1}
    assert set(bot.headers.keys()) == set(real.headers.keys())
    assert bot.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert submissions(app) == ["reader-0001"]
    assert rows(app, sa.select(Report.id, Report.submission_count)) == [(1, 1)]
    with app.app_context():
        site_id = db.session.scalar(sa.select(Report.site_id))
    assert f"honeypot: dropped a report for site {site_id}" in caplog.messages


@with_settings(RATELIMIT_REPORTS_PER_IP="2 per 5 minutes")
def test_honeypot_hits_count_against_the_senders_address(app, client, site_key):
    for n in range(2):
        assert send(client, site_key, f"bot-key-{n:04}", website="x").status_code == 201
    assert send(client, site_key, "reader-0001").status_code == 429
    assert submissions(app) == []


def test_honeypot_drop_does_not_use_up_an_idempotency_key(app, client, site_key):
    assert send(client, site_key, "shared-key-0001", website="x").json == {"id": 1, "joined": False, "count": 1}
    real = send(client, site_key, "shared-key-0001")
    assert real.json == {"id": 1, "joined": False, "count": 1}
    assert submissions(app) == ["shared-key-0001"]


def test_two_honeypot_sends_in_a_row_are_told_growing_ids(app, client, site_key):
    real = send(client, site_key, "reader-0001")
    bots = [send(client, site_key, f"bot-key-{n:04}", exact=f"word {n}", website="x").json for n in range(2)]
    # What two more real reports would have been told.
    assert bots == [{"id": real.json["id"] + 1, "joined": False, "count": 1},
                    {"id": real.json["id"] + 2, "joined": False, "count": 1}]
    assert submissions(app) == ["reader-0001"]


def test_honeypot_send_repeating_an_open_report_is_told_it_joined(app, client, site_key):
    first = send(client, site_key, "reader-0001")
    send(client, site_key, "reader-0002", ip=OTHER_READER)
    bot = send(client, site_key, "bot-key-0001", website="x")
    assert bot.json == {"id": first.json["id"], "joined": True, "count": 3}
    assert rows(app, sa.select(Report.submission_count)) == [(2,)]


def test_honeypot_send_reusing_an_accepted_key_is_told_the_first_answer(app, client, site_key):
    first = send(client, site_key, "reader-0001")
    bot = send(client, site_key, "reader-0001", exact="four-hour", website="x")
    assert bot.json == first.json == {"id": 1, "joined": False, "count": 1}
    assert submissions(app) == ["reader-0001"]


@with_settings(RATELIMIT_REPORTS_PER_SITE="5 per 5 minutes")
def test_concurrent_sends_to_one_site_store_exactly_its_limit(app, site_key, monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor

    from copydesk import intake
    file_batch = intake._file_batch

    def slow_file_batch(*args):
        time.sleep(0.2)  # the sends arriving meanwhile wait together, as under a flood
        return file_batch(*args)
    monkeypatch.setattr(intake, "_file_batch", slow_file_batch)

    def reader(n):
        with app.test_client() as reader_client:
            return send(reader_client, site_key, f"reader-{n:04}", ip=f"192.0.2.{n}", exact=f"word {n}").status_code
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(reader, range(32)))
    assert sorted(codes) == [201] * 5 + [429] * 27
    assert len(submissions(app)) == 5
    assert len(rows(app, sa.select(Report.id))) == 5


@with_settings(RATELIMIT_REPORTS_PER_IP="1 per 5 minutes")
def test_addresses_of_one_ipv6_64_share_the_report_limit(app, client, site_key):
    assert send(client, site_key, "reader-0001", ip="2001:db8:1:2::10").status_code == 201
    assert send(client, site_key, "reader-0002", ip="2001:db8:1:2:ffff::99").status_code == 429
    assert send(client, site_key, "reader-0003", ip="2001:db8:1:3::10").status_code == 201
    assert submissions(app) == ["reader-0001", "reader-0003"]


@with_settings(RATELIMIT_STORAGE_URL="redis://127.0.0.1:1/0")
def test_reports_are_accepted_while_the_rate_limit_store_is_down(app, client, site_key, caplog):
    caplog.set_level(logging.ERROR, logger="copydesk")
    first = send(client, site_key, "reader-0001")
    assert (first.status_code, first.json) == (201, {"id": 1, "joined": False, "count": 1})
    assert send(client, site_key, "reader-0002", exact="four-hour").status_code == 201
    assert submissions(app) == ["reader-0001", "reader-0002"]
    assert any("rate-limit store unavailable" in message for message in caplog.messages)
    config = client.get(f"/api/v1/sites/{site_key}/widget-config", headers={"Origin": ORIGIN})
    assert config.status_code == 200


@with_settings(RATELIMIT_ENABLED=False, RATELIMIT_REPORTS_PER_IP="1 per 5 minutes",
               RATELIMIT_REPORTS_PER_SITE="1 per 5 minutes")
def test_no_send_is_limited_when_rate_limits_are_off(app, client, site_key):
    codes = [send(client, site_key, f"reader-{n:04}", exact=f"word {n}").status_code for n in range(3)]
    assert codes == [201, 201, 201]
    assert len(submissions(app)) == 3
