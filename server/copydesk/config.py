"""Every setting Copydesk reads, declared once with its default and help text.

Settings come from these defaults, then ``config.py`` in the instance folder,
then ``COPYDESK_*`` environment variables. The README's configuration table is
checked against this list by a test.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS = [
    Setting("SECRET_KEY", None,
            "Signs sessions and CSRF tokens and keys the IP hash. If unset, a random key is "
            "generated once and kept in the instance folder; set it explicitly when running "
            "several app servers."),
    Setting("DATABASE_URL", None,
            "SQLAlchemy database URL. Default: SQLite file `copydesk.sqlite3` in the instance "
            "folder. Use `postgresql+psycopg://user:pass@host/db` for PostgreSQL."),
    Setting("SQLITE_SYNCHRONOUS", "NORMAL",
            "SQLite `synchronous` pragma in WAL mode. `NORMAL` survives a crash of the server "
            "process; `FULL` also survives a power loss, at a cost in throughput."),
    Setting("RATELIMIT_STORAGE_URL", "memory://",
            "Where rate-limit counters live. `memory://` for one process; "
            "`redis://host:6379/0` when several app processes share the limits."),
    Setting("RATELIMIT_REPORTS_PER_IP", "10 per 5 minutes;30 per hour;100 per day",
            "Report sends one client address may make, in Flask-Limiter syntax with `;` between "
            "limits. Every send counts, except that a retry of a report already accepted is "
            "always answered. Looser than Mistape's 5 per 5 minutes, 15 per 30 minutes, 30 per "
            "day because one careful reader may report several typos in a long article and many "
            "readers can share one address (office, campus, mobile carrier NAT)."),
    Setting("RATELIMIT_REPORTS_PER_SITE", "60 per minute;1000 per hour",
            "Reports one site may receive from all readers together; only stored reports count. "
            "Room for a viral article whose headline typo many readers report, while a flood "
            "from many addresses cannot bury the editors in more than this."),
    Setting("RATELIMIT_WIDGET_CONFIG", "60 per minute",
            "Requests for a site's widget configuration one client address may make."),
    Setting("RATELIMIT_LOGIN", "10 per 15 minutes",
            "Dashboard login attempts per client address and, separately, per account email; "
            "every attempt counts, right or wrong."),
    Setting("TRUSTED_PROXIES", 0,
            "How many reverse proxies in front of Copydesk set `X-Forwarded-For`/`-Proto`/`-Host`. "
            "0 (default) ignores those headers entirely, so a client cannot fake its address "
            "to dodge the rate limits; set it to 1 behind one nginx or load balancer."),
    Setting("SESSION_COOKIE_SECURE", None,
            "Send the editor session cookie over HTTPS only. Default: on when the request "
            "came over HTTPS (directly or through a trusted proxy)."),
    Setting("PUBLIC_URL", None,
            "The address readers' browsers reach Copydesk at, e.g. `https://desk.example.com`; "
            "used in the embed snippets the CLI prints."),
    Setting("MAX_BODY_BYTES", 16 * 1024, "Largest accepted report request body, in bytes."),
    Setting("PAGE_SIZE", 50, "Reports per page in the dashboard list."),
    Setting("BIND", "127.0.0.1:8000", "Address `copydesk serve` listens on."),
    Setting("WORKERS", None, "Worker processes for `copydesk serve`. Default: 2 × CPU count + 1, at most 8."),
    Setting("THREADS", 4, "Threads per worker process for `copydesk serve`."),
    Setting("TIMEOUT", 30, "Seconds before `copydesk serve` restarts a silent worker."),
    Setting("RETENTION_DAYS", None,
            "Default for `copydesk purge --older-than`: drop personal fields of submissions older "
            "than this many days."),
]


def defaults():
    return {s.name: s.default for s in SETTINGS}
