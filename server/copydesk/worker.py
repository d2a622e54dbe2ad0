"""``copydesk worker``: everything that is not a request (deliveries, scheduled jobs).

The database is the queue (see notify/deliveries.py): a worker plans due reports into
deliveries, claims due deliveries and sends a few at a time, and runs the scheduled jobs
(the retention purge, page checks), each claimed by moving its ``next_run_at`` forward.
Any number of workers may run against one PostgreSQL database. ``copydesk serve`` and
``copydesk run`` start one as a child process (``WorkerProcess``) unless SERVE_WORKER is off.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from .db import db
from .models import utcnow
from .notify.models import Job

logger = logging.getLogger("copydesk.worker")

# Deliveries sent at once; each holds one connection to a mail server or webhook.
CONCURRENT_SENDS = 4
PLAN_BATCH = 100
# How long a stopping worker waits for a scheduled job in progress.
JOB_STOP_SECONDS = 10
# The CPU priority a worker started by `copydesk serve` or `copydesk run` gives up (see nice(1)).
NICENESS = 10


class ScheduledJob:
    """A scheduled job: its name (the ``job`` row), how often it runs, and whether it is on."""

    def __init__(self, name, every, run, enabled=lambda: True):
        self.name, self.every, self.run, self.enabled = name, every, run, enabled


def _purge():
    from . import retention
    counts = retention.purge(int(current_app.config["RETENTION_DAYS"]))
    return ", ".join(f"{key}: {value}" for key, value in sorted(counts.items()))


def _checks():
    from . import checks
    return f"{len(checks.run_due())} report(s) checked"


def _requested_checks():
    from . import checks
    return f"{len(checks.run_requested())} requested check(s)"


JOBS = (
    # First: what editors asked for (brought forward by checks.request_checks) waits least.
    ScheduledJob("requested checks", timedelta(minutes=1), _requested_checks),
    ScheduledJob("purge", timedelta(days=1), _purge, lambda: current_app.config["RETENTION_DAYS"] is not None),
    ScheduledJob("checks", timedelta(hours=1), _checks),
)


class Worker:
    """Runs what is due, every WORKER_POLL_SECONDS, until ``stop()``: ``run()``, or
    ``run_once()`` for everything due now."""

    def __init__(self, app, parent_pid=None, jobs=JOBS):
        from .notify.deliveries import worker_id
        self.app = app
        self.parent_pid = parent_pid
        self.jobs = jobs
        self.stopping = threading.Event()
        self._jobs_thread = None
        with app.app_context():
            self.id = worker_id()

    def stop(self, *_signal):
        self.stopping.set()

    def run(self):
        """The loop; returns when stopped (a signal, or the parent that started it died),
        after the sends in flight have finished."""
        logger.info("worker %s started", self.id)
        while not self.stopping.is_set():
            try:
                self.run_once(jobs_aside=True)
            except Exception:  # noqa: BLE001 - a database outage must not end the worker: log, wait, go on
                logger.exception("worker round failed; trying again")
                with self.app.app_context():
                    db.session.rollback()
            if self._orphaned():
                logger.info("the process that started the worker is gone: stopping")
                break
            self.stopping.wait(float(self.app.config["WORKER_POLL_SECONDS"]))
        if self._jobs_thread is not None:
            # The job in progress may finish; one still running then (a slow page check) is
            # left: its work is committed step by step, and it runs again next period.
            self._jobs_thread.join(JOB_STOP_SECONDS)
        logger.info("worker %s stopped", self.id)

    def _orphaned(self):
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def run_once(self, jobs_aside=False):
        """Plan due reports, run due jobs, send due deliveries; answers the outcomes sent.
        ``jobs_aside``: run the jobs in a thread of their own (a page check may take
        minutes; deliveries must not wait for it), unless they are running already."""
        with self.app.app_context():
            self.plan()
            if not jobs_aside:
                self.run_jobs()
        if jobs_aside and (self._jobs_thread is None or not self._jobs_thread.is_alive()):
            self._jobs_thread = threading.Thread(target=self._run_jobs_aside, name="copydesk-jobs", daemon=True)
            self._jobs_thread.start()
        return self.send_due()

    def _run_jobs_aside(self):
        with self.app.app_context():
            try:
                self.run_jobs()
            except Exception:  # noqa: BLE001 - logged; the next round tries again
                db.session.rollback()
                logger.exception("scheduled jobs failed")

    def plan(self):
        from .notify.deliveries import plan
        while not self.stopping.is_set() and plan(PLAN_BATCH) == PLAN_BATCH:
            pass

    def run_jobs(self):
        for job in self.jobs:
            if self.stopping.is_set():
                return
            if job.enabled() and self._claim_job(job):
                try:
                    outcome = job.run() or "done"
                except Exception as error:  # noqa: BLE001 - a job's failure is recorded; it runs again next time
                    db.session.rollback()
                    logger.exception("job %s failed", job.name)
                    # The class only: an error's text (a database error's SQL parameters) may
                    # hold a reader's address; the log has the rest.
                    outcome = f"failed: {error.__class__.__name__}; see the worker's log."
                else:
                    logger.info("job %s: %s", job.name, outcome)
                db.session.execute(sa.update(Job).where(Job.name == job.name)
                                   .values(last_run_at=utcnow(), last_outcome=outcome))
                db.session.commit()

    def _claim_job(self, job):
        """Move the job's next run forward; the worker whose UPDATE did it runs the job."""
        now = utcnow()
        claimed = db.session.execute(
            sa.update(Job).where(Job.name == job.name, Job.next_run_at <= now)
            .values(next_run_at=now + job.every)).rowcount
        if claimed:
            db.session.commit()
            return True
        exists = db.session.scalar(sa.select(Job.name).where(Job.name == job.name))
        if exists is None:
            try:
                # The first run creates the row; another worker creating it too just loses.
                with db.session.begin_nested():
                    db.session.add(Job(name=job.name, next_run_at=now + job.every))
                db.session.commit()
                return True
            except sa.exc.IntegrityError:
                pass
        db.session.rollback()
        return False

    def send_due(self):
        """Claim and send due deliveries, CONCURRENT_SENDS at a time, claiming only as
        many as there are free slots (so no claim waits behind other sends and lapses),
        until none is due or the worker stops; the sends in flight always finish."""
        from .notify.deliveries import claim
        outcomes, running = [], set()
        with ThreadPoolExecutor(CONCURRENT_SENDS, thread_name_prefix="copydesk-send") as pool:
            while True:
                ids = []
                if not self.stopping.is_set() and len(running) < CONCURRENT_SENDS:
                    with self.app.app_context():
                        ids = claim(self.id, CONCURRENT_SENDS - len(running))
                running.update(pool.submit(self._send, claimed) for claimed in ids)
                if not running:
                    break
                if ids and len(running) < CONCURRENT_SENDS:
                    continue  # more may be due: fill the free slots first
                done, running = wait(running, return_when=FIRST_COMPLETED)
                outcomes.extend(future.result() for future in done)
        return [outcome for outcome in outcomes if outcome is not None]

    def _send(self, claimed):
        from .notify.deliveries import send_claimed
        with self.app.app_context():
            try:
                outcome = send_claimed(claimed.delivery_id, claimed.claimed_by)
            except Exception:  # noqa: BLE001 - the claim lapses and the delivery is tried again
                db.session.rollback()
                logger.exception("delivery %s: sending failed unexpectedly; it is retried when its claim lapses",
                                 claimed.delivery_id)
                return None
        if outcome is not None:
            (logger.warning if outcome.state == "failed" else logger.info)("%s", outcome)
        return outcome


@click.command("worker")
@click.option("--once", is_flag=True, help="Do everything due now, then exit (for cron and tests).")
@click.option("--parent", type=int, default=None, hidden=True,
              help="Exit when this process (the server that started the worker) is gone.")
@click.option("--status-fd", type=int, default=None, hidden=True,
              help="Write 'stopped' to this file descriptor on a clean exit (for that server).")
def worker_command(once, parent, status_fd):
    """Run the background worker: notification deliveries and scheduled jobs.

    Any number may run against one PostgreSQL database; each due message is sent by one.
    SIGTERM or SIGINT: stop taking work, finish the sends in flight, exit."""
    from .cli import needs_schema

    @needs_schema
    def start():
        from .logs import configure_app_logging
        configure_app_logging()
        if parent is not None:
            # Beside a server, requests come first: a flood of reports delays messages, not readers.
            os.nice(NICENESS)
        worker = Worker(current_app._get_current_object(), parent_pid=parent)
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        if once:
            outcomes = worker.run_once()
            sent = sum(outcome.state == "sent" for outcome in outcomes)
            click.echo(_("%(sent)d sent, %(unsent)d not sent (see the site's deliveries).", sent=sent,
                         unsent=len(outcomes) - sent))
        else:
            worker.run()
        if status_fd is not None:
            os.write(status_fd, b"stopped\n")
    start()


class WorkerProcess:
    """The ``copydesk worker`` that ``copydesk serve`` and ``copydesk run`` start: a fresh
    process (not forked from a server holding database connections), restarted if it dies
    (not if it was told to stop), stopped with the server. It exits by itself if the server
    is killed.

    Whether it stopped or died is read from a pipe it writes "stopped" to on a clean exit:
    its exit status may be lost, as gunicorn's master reaps every child it has."""

    RESTART_SECONDS = 1.0
    STOP_SECONDS = 30

    def __init__(self):
        self._process = None
        self._status = None  # the read end of the worker's status pipe
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def command(self, status_fd):
        """This installation's ``copydesk worker`` (its script beside this Python, else
        through it; not ``-m copydesk.cli``, which would run the module beside its imported
        self)."""
        script = Path(sys.executable).with_name("copydesk")
        start = [str(script)] if script.exists() else [
            sys.executable, "-c", "from copydesk.cli import main; main(prog_name='copydesk')"]
        return [*start, "worker", "--parent", str(os.getpid()), "--status-fd", str(status_fd)]

    def start(self):
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="copydesk-worker-watch", daemon=True)
        self._thread.start()
        return self

    def _spawn(self):
        with self._lock:
            if self._stopping.is_set():
                return
            read_end, write_end = os.pipe()
            os.set_blocking(read_end, False)
            try:
                self._process = subprocess.Popen(self.command(write_end), stdin=subprocess.DEVNULL,
                                                 pass_fds=(write_end,))
            except OSError:
                os.close(read_end)
                raise
            finally:
                os.close(write_end)
            if self._status is not None:
                os.close(self._status)
            self._status = read_end
            logger.info("background worker started (pid %s)", self._process.pid)

    def _stopped_cleanly(self):
        try:
            return b"stopped" in os.read(self._status, 64)
        except BlockingIOError:
            return False

    def _watch(self):
        delay = self.RESTART_SECONDS
        while not self._stopping.is_set():
            process = self._process
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if self._stopped_cleanly():
                # It was told to stop (SIGTERM, Ctrl+C: most often the whole server stopping).
                logger.info("background worker (pid %s) stopped on request: not restarted", process.pid)
                return
            logger.error("background worker (pid %s) died (exit status %s): restarting it", process.pid, code)
            # A worker that keeps dying at once (a bad setting) is restarted less and less often.
            delay = self.RESTART_SECONDS if time.monotonic() - started > 60 else min(delay * 2, 60)
            if self._stopping.wait(delay):
                return
            self._spawn()

    def stop(self):
        """SIGTERM, then wait for the sends in flight; SIGKILL after STOP_SECONDS."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(self.STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
