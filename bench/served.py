"""Serve a benchmark's app with exactly the gunicorn settings of ``copydesk serve``."""

import argparse

from copydesk.config import defaults
from copydesk.logs import JsonLogger, configure_app_logging
from copydesk.server import CopydeskServer, server_options


def serve_like_copydesk(app, default_bind):
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", default=default_bind)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    configure_app_logging()
    options = server_options({**defaults(), "BIND": args.bind, "WORKERS": args.workers})
    assert options["logger_class"] is JsonLogger
    CopydeskServer(app, options).run()
