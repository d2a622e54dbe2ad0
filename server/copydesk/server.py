"""``copydesk serve``: the app under gunicorn, configured from COPYDESK_* settings."""

import json
import multiprocessing

from gunicorn.app.base import BaseApplication

from . import create_app

# One JSON object per request line, for log collectors.
ACCESS_LOG_FORMAT = json.dumps({
    "time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", "query": "%(q)s",
    "status": "%(s)s", "bytes": "%(B)s", "duration_us": "%(D)s", "referer": "%(f)s", "agent": "%(a)s",
})


class CopydeskServer(BaseApplication):
    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def default_workers():
    return min(2 * multiprocessing.cpu_count() + 1, 8)


def serve(bind=None, workers=None):
    app = create_app()
    config = app.config
    options = {
        "bind": bind or config["BIND"],
        "workers": workers or int(config["WORKERS"] or default_workers()),
        "threads": int(config["THREADS"]),
        "worker_class": "gthread",
        "timeout": int(config["TIMEOUT"]),
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "forwarded_allow_ips": "*" if int(config["TRUSTED_PROXIES"]) else "127.0.0.1",
    }
    CopydeskServer(app, options).run()
