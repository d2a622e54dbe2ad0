"""Every setting Copydesk reads, declared once with its default and help text.

Settings come from these defaults, then ``config.py`` in the instance folder,
then ``COPYDESK_*`` environment variables. The README's configuration table is
checked against this list by a test.
"""

from dataclasses import dataclass
from typing import Any, Callable

import click
from limits import parse_many


class SettingError(click.ClickException):
    """A setting Copydesk will not start with: every command prints the one line (exit 1),
    never a traceback; any other caller gets an ordinary exception."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    # Turns the value as read (from the config file or the environment) into the one used,
    # or raises ValueError saying what is wrong: checked once, at start.
    check: Callable[[Any], Any] | None = None


def whole_number(low, high=None, optional=False):
    def check(value):
        if value is None and optional:
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
            span = f"from {low} to {high}" if high else f"of at least {low}"
            raise ValueError(f"must be a whole number {span}, not {value!r}")
        return value
    return check


def one_of(*choices):
    def check(value):
        if str(value).upper() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value).upper()
    return check


def rate_limits(value):
    try:
        if parse_many(str(value)):
            return str(value)
    except ValueError:
        pass
    raise ValueError(f"must be limits such as \"10 per 5 minutes;30 per hour\", not {value!r}")


MIN_SECRET_KEY_LENGTH = 32
# Found in docs and examples: long enough, but anyone can read them.
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-me", "replaceme",
                     "your-secret", "secret-key", "placeholder", "example")


def secret_key(key):
    """A key that cannot be guessed: long, not a placeholder, not a few characters repeated.
    Everything it signs or keys (sessions, CSRF, the keyed hashes) is only as good. Unset
    (None): Copydesk generates one and keeps it in the instance folder."""
    if key is None:
        return None
    if not isinstance(key, str):
        problem = "must be text"
    elif len(key) < MIN_SECRET_KEY_LENGTH:
        problem = f"is {len(key)} characters long; it needs at least {MIN_SECRET_KEY_LENGTH}"
    elif any(word in key.lower() for word in PLACEHOLDER_WORDS):
        problem = "is a placeholder from an example"
    elif len(set(key)) < 8:
        problem = "repeats too few different characters to be secret"
    else:
        return key
    raise ValueError(
        f"{problem}. Set a random one, e.g. the output of "
        "`python3 -c 'import secrets; print(secrets.token_hex(32))'`, or unset it to have "
        "Copydesk generate and keep one in the instance folder")


def positive_number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or not number > 0:
        raise ValueError(f"must be a number above 0, not {value!r}")
    return number


SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")


def smtp_url(value):
    """smtp://user:pass@host:port, smtps://… (TLS from the start) or smtp+starttls://…"""
    if value is None:
        return None
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(str(value))
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ValueError("must look like smtp://user:password@host:587, smtps://… or "
                         f"smtp+starttls://…, not {value!r}")
    return str(value)


def flag(value):
    if value is None or isinstance(value, bool):
        return value
    words = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}
    if str(value).strip().lower() not in words:
        raise ValueError(f"must be true or false, not {value!r}")
    return words[str(value).strip().lower()]


SETTINGS = [
    Setting("SECRET_KEY", None,
            "Signs sessions and CSRF tokens and keys the IP hash. If unset, a random key is "
            "generated once and kept in the instance folder; set it explicitly when running "
            "several app servers. It is read as text and must be at least 32 characters and "
            "not a placeholder, or Copydesk refuses to start.",
            check=secret_key),
    Setting("DATABASE_URL", None,
            "SQLAlchemy database URL. Default: SQLite file `copydesk.sqlite3` in the instance "
            "folder. Use `postgresql+psycopg://user:pass@host/db` for PostgreSQL."),
    Setting("SQLITE_SYNCHRONOUS", "NORMAL",
            "SQLite `synchronous` pragma in WAL mode. `NORMAL` survives a crash of the server "
            "process; `FULL` also survives a power loss, at a cost in throughput.",
            check=one_of("OFF", "NORMAL", "FULL", "EXTRA")),
    Setting("RATELIMIT_STORAGE_URL", "memory://",
            "Where rate-limit counters live. `memory://` for one process; "
            "`redis://host:6379/0` when several app processes share the limits."),
    Setting("RATELIMIT_PER_PROCESS", False,
            "Let `copydesk serve` run several worker processes with `memory://` rate limits, each "
            "process counting for itself (one address may then send up to WORKERS × each limit). "
            "Off: `serve` refuses several processes with `memory://` and says what to do instead.",
            check=flag),
    Setting("RATELIMIT_REPORTS_PER_IP", "10 per 5 minutes;30 per hour;100 per day",
            "Report sends one client address may make, in Flask-Limiter syntax with `;` between "
            "limits. Every send counts, except that a retry of a report already accepted is "
            "always answered. Looser than Mistape's 5 per 5 minutes, 15 per 30 minutes, 30 per "
            "day because one careful reader may report several typos in a long article and many "
            "readers can share one address (office, campus, mobile carrier NAT).",
            check=rate_limits),
    Setting("RATELIMIT_REPORTS_PER_SITE", "60 per minute;1000 per hour",
            "Reports one site may receive from all readers together; only stored reports count. "
            "Room for a viral article whose headline typo many readers report, while a flood "
            "from many addresses cannot bury the editors in more than this.",
            check=rate_limits),
    Setting("RATELIMIT_WIDGET_CONFIG", "60 per minute",
            "Requests for a site's widget configuration one client address may make.",
            check=rate_limits),
    Setting("RATELIMIT_LOGIN", "10 per 15 minutes",
            "Password attempts (login and Account) per client address, and failed attempts per "
            "account email; counted in the database, so exact across processes and servers. "
            "The per-account limit binds only addresses that have failed for that account, so "
            "a guesser cannot lock the owner out (see Security).",
            check=rate_limits),
    Setting("TRUSTED_PROXIES", 0,
            "How many reverse proxies in front of Copydesk set `X-Forwarded-For`/`-Proto`/`-Host`. "
            "0 (default) ignores those headers entirely, so a client cannot fake its address "
            "to dodge the rate limits; set it to 1 behind one nginx or load balancer.",
            check=whole_number(0, 10)),
    Setting("SESSION_COOKIE_SECURE", None,
            "Send the editor session cookie over HTTPS only. Default: on when the request "
            "came over HTTPS (directly or through a trusted proxy).",
            check=flag),
    Setting("SESSION_IDLE_MINUTES", 240,
            "Minutes without a request after which an editor's session ends and they log in "
            "again.",
            check=whole_number(1)),
    Setting("SESSION_LIFETIME_HOURS", 24,
            "Hours after login at which an editor's session ends however active it is, so a "
            "copied cookie is not good for long.",
            check=whole_number(1)),
    Setting("PUBLIC_URL", None,
            "The address readers' browsers reach Copydesk at, e.g. `https://desk.example.com`; "
            "used in the embed snippets (the CLI's and the dashboard's). Default: in the dashboard, "
            "the address the page was opened at; in the CLI, derived from BIND, with a warning."),
    Setting("MAX_BODY_BYTES", 16 * 1024, "Largest accepted report request body, in bytes.",
            check=whole_number(1024, 1024 * 1024)),
    Setting("WIDGET_CACHE_SECONDS", 3600,
            "How long readers' browsers reuse the widget's script without asking the desk; after "
            "that they revalidate it (a `304` when unchanged) and may run their copy for a day "
            "more meanwhile. After a release, a browser may run its old copy for up to this plus a day.",
            check=whole_number(0)),
    Setting("PAGE_SIZE", 50, "Reports per page in the dashboard list.",
            check=whole_number(1, 500)),
    Setting("BIND", "127.0.0.1:5000", "Address `copydesk serve` and `copydesk run` listen on."),
    Setting("WORKERS", None,
            "Worker processes for `copydesk serve`. Default: 1 with `memory://` rate limits (so "
            "they are exact), else 2 × CPU count + 1, at most 8.",
            check=whole_number(1, 64, optional=True)),
    Setting("THREADS", None,
            "Threads per worker process running requests in `copydesk serve` (slow clients hold "
            "none). Default: 16 with one worker process, 4 each with several.",
            check=whole_number(1, 256, optional=True)),
    Setting("TIMEOUT", 30, "Seconds before `copydesk serve` restarts a silent worker.",
            check=whole_number(1)),
    Setting("DEMO", None,
            "Serve the demo article (`/demo/`, made by `copydesk demo`). Default: on under "
            "`copydesk run`, off under `copydesk serve`.",
            check=flag),
    Setting("SMTP_URL", None,
            "Mail server for notifications: `smtp://user:password@host:25` (plain), "
            "`smtp+starttls://…:587` (upgraded to TLS; refused if the server cannot) or "
            "`smtps://…:465` (TLS from the start). Percent-encode `@`, `:` and `/` in the user "
            "and password. Unset: email deliveries wait, retrying, until it is set.",
            check=smtp_url),
    Setting("MAIL_FROM", "Copydesk <copydesk@localhost>",
            "The From address of notification emails."),
    Setting("TELEGRAM_API_URL", "https://api.telegram.org",
            "Base URL of the Telegram Bot API (a local Bot API server or a proxy may stand in)."),
    Setting("NOTIFY_TIMEOUT_SECONDS", 20,
            "Longest wait for a mail server or webhook to answer one delivery.",
            check=positive_number),
    Setting("NOTIFY_RETRY_SECONDS", 30,
            "Wait before the first retry of a failed delivery; each retry waits twice as long "
            "(with jitter), up to NOTIFY_RETRY_MAX_SECONDS.",
            check=positive_number),
    Setting("NOTIFY_RETRY_MAX_SECONDS", 3600,
            "Longest wait between two retries of a delivery.",
            check=positive_number),
    Setting("NOTIFY_GIVE_UP_HOURS", 24,
            "Hours after a delivery fell due after which it stops being retried and is marked "
            "failed (an admin can still retry it from the site's page).",
            check=positive_number),
    Setting("DIGEST_HOUR", 8,
            "Hour of the day (UTC) daily digests are sent.",
            check=whole_number(0, 23)),
    Setting("WORKER_POLL_SECONDS", 1,
            "How often the background worker looks for work due (deliveries, scheduled jobs).",
            check=positive_number),
    Setting("SERVE_WORKER", True,
            "`copydesk serve` and `copydesk run` also run the background worker, so one command "
            "runs everything. Turn it off where `copydesk worker` runs as its own service.",
            check=flag),
    Setting("CHECK_ALLOW_PRIVATE", False,
            "Let page checks fetch pages at private, loopback and link-local addresses (an "
            "intranet, tests). Off: such a page is never fetched, so a report's URL cannot make "
            "the desk reach into its own network.",
            check=flag),
    Setting("NOTIFY_ALLOW_PRIVATE", False,
            "Let Slack, Telegram and webhook notifications go to private, loopback and "
            "link-local addresses (a receiver on the intranet, tests). Off: such a target is "
            "refused, so a rule cannot make the desk reach into its own network.",
            check=flag),
    Setting("RETENTION_DAYS", None,
            "Default for `copydesk purge --older-than`: drop personal fields of submissions older "
            "than this many days.",
            check=whole_number(0, optional=True)),
]


def defaults():
    return {s.name: s.default for s in SETTINGS}


def check_settings(config):
    """Check every setting once, at start, and keep the values as checked: a mistyped value
    stops Copydesk with one line naming it, not a 500 on the first request that reads it."""
    for setting in SETTINGS:
        if setting.check is None:
            continue
        try:
            config[setting.name] = setting.check(config[setting.name])
        except ValueError as error:
            raise SettingError(f"COPYDESK_{setting.name} {error}.") from None
