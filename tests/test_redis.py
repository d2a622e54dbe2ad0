"""Several app servers share their rate limits through Redis.

Runs when COPYDESK_TEST_REDIS_URL names a Redis database this test may flush.
"""

import os

import pytest
import redis
import requests
import sqlalchemy as sa

from conftest import ORIGIN, report_body, rows
from copydesk.models import Submission

REDIS_URL = os.environ.get("COPYDESK_TEST_REDIS_URL")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not REDIS_URL, reason="set COPYDESK_TEST_REDIS_URL to run the Redis tests")]


@pytest.fixture
def redis_db():
    """The test's Redis database, empty before and after."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def two_servers(serve, database_url, storage_url):
    # One worker each, so with memory:// every server counts for itself.
    env = {"COPYDESK_RATELIMIT_STORAGE_URL": storage_url,
           "COPYDESK_RATELIMIT_REPORTS_PER_IP": "3 per minute"}
    return serve(database_url, workers=1, env=env), serve(database_url, workers=1, env=env)


def send_alternately(servers, site_key, count):
    answers = []
    for n in range(count):
        server = servers[n % len(servers)]
        answers.append(requests.post(server.url + "/api/v1/reports",
                                     json=report_body(site_key, idempotency_key=f"shared-limit-{n:04d}"),
                                     headers={"Origin": ORIGIN}, timeout=10))
    return answers


def test_two_app_servers_share_the_per_ip_limit_through_redis(
        app, make_site, database_url, serve, redis_db):
    site_key = make_site(origins=[ORIGIN])
    servers = two_servers(serve, database_url, REDIS_URL)
    answers = send_alternately(servers, site_key, 4)

    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    limited = answers[3]
    assert limited.headers["Content-Type"] == "application/json"
    assert "Too many reports from your address." in limited.json()["errors"]["_request"][0]
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert len(rows(app, sa.select(Submission))) == 3
    # The counters live in Redis (keyed by a hash of the address, never the address).
    keys = [k.decode() for k in redis_db.keys("*")]
    assert keys and not any("127.0.0.1" in k for k in keys)


def test_without_redis_each_server_counts_alone(app, make_site, database_url, serve, redis_db):
    site_key = make_site(origins=[ORIGIN])
    servers = two_servers(serve, database_url, "memory://")
    answers = send_alternately(servers, site_key, 4)
    assert [a.status_code for a in answers] == [201, 201, 201, 201]
    assert redis_db.keys("*") == []
