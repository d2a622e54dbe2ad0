"""``copydesk serve``: the app under gunicorn, configured from COPYDESK_* settings.

Gunicorn's asyncio worker reads each request before any thread takes it, so clients that
send their headers slowly (Slowloris) hold a connection each, never a thread; the Flask
app runs in a pool of threads behind it (a2wsgi)."""

import gc
import multiprocessing

import click
from gunicorn.app.base import BaseApplication

from . import create_app
from .logs import JsonLogger, configure_app_logging
from .schema_version import check_schema

MAX_DEFAULT_WORKERS = 8
THREADS_ALONE, THREADS_EACH = 16, 4
# On SIGTERM a worker finishes its requests in flight, and waits at most this long for
# connections still open (a client may hold one without ever sending a request).
GRACEFUL_SECONDS = 20


class CopydeskServer(BaseApplication):
    def __init__(self, app, options):
        self.application = app
        self.threads = options["threads"]
        # The threads run the Flask app (a2wsgi); gunicorn's asyncio worker takes none.
        self.options = {key: value for key, value in options.items() if key != "threads"}
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from a2wsgi import WSGIMiddleware
        return WSGIMiddleware(_input_terminated(self.application), workers=self.threads)


def _input_terminated(app):
    """a2wsgi's request body ends where the request does (gunicorn has decoded any chunked
    framing), which WSGI says with ``wsgi.input_terminated``: without it Werkzeug reads a
    body that has no Content-Length as empty."""
    def with_terminated_input(environ, start_response):
        environ["wsgi.input_terminated"] = True
        return app(environ, start_response)
    return with_terminated_input


def default_workers():
    return min(2 * multiprocessing.cpu_count() + 1, MAX_DEFAULT_WORKERS)


def per_process_limits(config):
    """Whether each process would count the rate limits for itself."""
    return config["RATELIMIT_STORAGE_URL"].startswith("memory://")


def server_options(config, bind=None, workers=None, threads=None):
    """Gunicorn's settings. Raises click.UsageError for several processes that would each
    count the rate limits for themselves, unless RATELIMIT_PER_PROCESS allows it."""
    alone = per_process_limits(config)
    workers = int(workers or config["WORKERS"] or (1 if alone else default_workers()))
    if workers > 1 and alone and not config["RATELIMIT_PER_PROCESS"]:
        raise click.UsageError(
            f"{workers} worker processes with COPYDESK_RATELIMIT_STORAGE_URL=memory:// would each "
            f"count the rate limits for themselves (a client gets up to {workers} × each limit). "
            "Use one worker (--workers 1, the default with memory://), or share the counters "
            "with COPYDESK_RATELIMIT_STORAGE_URL=redis://host:6379/0, or accept per-process "
            "limits with COPYDESK_RATELIMIT_PER_PROCESS=true.")
    threads = int(threads or config["THREADS"] or (THREADS_ALONE if workers == 1 else THREADS_EACH))
    return {
        "bind": bind or config["BIND"],
        "workers": workers,
        "threads": threads,
        "worker_class": "asgi",
        "timeout": int(config["TIMEOUT"]),
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": 5,
        # A worker leaks nothing over time this way, and restarts are staggered.
        "max_requests": 20000,
        "max_requests_jitter": 2000,
        # The app writes the access lines (logs.py), with the client's address as ProxyFix sees it.
        "accesslog": None,
        "errorlog": "-",
        "logger_class": JsonLogger,
        "capture_output": False,
        # ProxyFix (TRUSTED_PROXIES) alone decides which forwarded headers count: gunicorn
        # trusts no peer to set the scheme, SCRIPT_NAME or PATH_INFO.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "forwarder_headers": "",
        "proc_name": "copydesk",
        # One fixed socket path per user would clash between several servers on one machine.
        "control_socket_disable": True,
    }


def worker_hooks(config, run_worker=True):
    """Gunicorn's master starts the background worker once it listens and stops it when it
    exits (SERVE_WORKER; ``--no-worker``): one command runs everything."""
    if not (run_worker and config["SERVE_WORKER"]):
        return {}
    from .worker import WorkerProcess
    process = WorkerProcess()
    return {"when_ready": lambda _arbiter: process.start(), "on_exit": lambda _arbiter: process.stop()}


def serve(bind=None, workers=None, threads=None, run_worker=True):
    configure_app_logging()
    app = create_app()
    check_schema(app)  # several app servers must not race to migrate: upgrading is a step of its own
    options = server_options(app.config, bind=bind, workers=workers, threads=threads)
    options.update(worker_hooks(app.config, run_worker))
    # What the app loaded stays shared with the forked workers, and their garbage
    # collector stops walking it on every collection.
    gc.collect()
    gc.freeze()
    CopydeskServer(app, options).run()
