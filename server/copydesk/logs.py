"""JSON-lines logging for ``copydesk serve`` and ``copydesk run``: one object per line,
for log collectors.

Access lines go to stdout; the server's own messages and the app's logs to stderr.
"""

import json
import logging
import sys
from datetime import datetime, timezone
from time import perf_counter

from flask import g, request
from gunicorn.glogging import Logger as GunicornLogger

ACCESS_LOG = logging.getLogger("copydesk.access")


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` plus ``exception`` when there is one."""

    def format(self, record):
        entry = {"time": _now(), "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class JsonLogger(GunicornLogger):
    """Gunicorn's logger with its own messages as JSON lines. Access lines are the app's
    (``init_app``), so ``copydesk serve`` and ``copydesk run`` write the same ones."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())


def init_app(app):
    """One access line per request, built from a dict, so a quote or a backslash in a path
    or user agent cannot break a line. The client's address (as TRUSTED_PROXIES sees it) is
    logged as the same keyed hash the database keeps, never raw."""
    from .intake import hash_ip

    @app.before_request
    def _start_clock():
        g.access_started = perf_counter()

    @app.after_request
    def _log_access(response):
        if ACCESS_LOG.isEnabledFor(logging.INFO):
            started = g.get("access_started")
            entry = {
                "time": _now(),
                "type": "access",
                "remote_hash": hash_ip(request.remote_addr),
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode("latin-1"),
                "status": response.status_code,
                "bytes": response.content_length,
                "duration_ms": round((perf_counter() - started) * 1000, 3) if started else None,
                "referer": request.referrer,
                "agent": request.user_agent.string or None,
            }
            ACCESS_LOG.info(json.dumps(entry, ensure_ascii=False))
        return response


def configure_app_logging(level=logging.INFO):
    """Send access lines to stdout and every other logger (Flask's app logger included)
    to stderr as JSON lines. With a root handler in place, Flask adds none of its own."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    access = logging.StreamHandler(sys.stdout)
    access.setFormatter(logging.Formatter("%(message)s"))
    ACCESS_LOG.handlers[:] = [access]
    ACCESS_LOG.propagate = False
