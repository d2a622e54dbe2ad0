"""JSON-lines logging for ``copydesk serve``: one object per line, for log collectors.

Access lines go to stdout; the server's own messages and the app's logs to stderr.
"""

import hashlib
import hmac
import json
import logging
import sys
from datetime import datetime, timezone

from gunicorn.glogging import Logger as GunicornLogger


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
    """Gunicorn's logger with JSON access lines built from a dict, so a quote or a
    backslash in a path or user agent cannot break a line. Client addresses are
    logged as the same keyed hash the database keeps, never raw."""

    ip_key = b""

    def _remote(self, environ):
        address = environ.get("REMOTE_ADDR")
        if not address:
            return None
        return hmac.new(self.ip_key, address.encode(), hashlib.sha256).hexdigest()[:32]

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(logging.Formatter("%(message)s"))

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        entry = {
            "time": _now(),
            "type": "access",
            "remote_hash": self._remote(environ),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or "",
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "referer": environ.get("HTTP_REFERER"),
            "agent": environ.get("HTTP_USER_AGENT"),
        }
        try:
            self.access_log.info(json.dumps(entry, ensure_ascii=False))
        except Exception:
            self.exception("could not write an access log line")


def configure_app_logging(level=logging.INFO):
    """Send every logger (Flask's app logger included) to stderr as JSON lines.
    With a root handler in place, Flask adds none of its own."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
