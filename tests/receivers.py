"""Real servers the desk sends to in tests: an SMTP server (aiosmtpd) and an HTTP receiver.

Both run in a thread of the test process, on a free loopback port, and keep what they
received for the test to read back. Either can be stopped and started again on the same
port (an outage), told to hold a message before answering (so a sender can be killed
mid-send), or, for HTTP, to answer errors first.
"""

import email
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def _free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mail:
    """One message the SMTP server accepted."""

    def __init__(self, envelope):
        self.sender = envelope.mail_from
        self.recipients = list(envelope.rcpt_tos)
        self.raw = envelope.original_content or envelope.content
        self.message = email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self):
        return str(self.message["Subject"])

    def header(self, name):
        value = self.message[name]
        return None if value is None else str(value)

    def part(self, content_type):
        """The decoded text of the first part of this type ("text/plain", "text/html")."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        return None

    @property
    def text(self):
        return self.part("text/plain")

    @property
    def html(self):
        return self.part("text/html")

    def __repr__(self):
        return f"<Mail to {self.recipients} {self.subject!r}>"


class _Controller(Controller):
    def factory(self):
        # aiosmtpd warns when AUTH runs without STARTTLS, which smtps (TLS from the first
        # byte) is not, and about its own deprecations; neither concerns these tests.
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return super().factory()


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        import asyncio
        while self.server.holding.is_set():  # a sender may be killed meanwhile
            await asyncio.sleep(0.05)
        self.server._received(Mail(envelope))
        return "250 Message accepted for delivery"


class SMTPServer:
    """aiosmtpd on 127.0.0.1:``port``. ``url`` is the COPYDESK_SMTP_URL that reaches it.

    ``tls``: None (plain), "starttls" or "smtps", with a certificate from ``ca`` (a
    ``trustme.CA``; senders trust it through SSL_CERT_FILE). ``login``: (user, password)
    the server requires."""

    def __init__(self, tls=None, ca=None, login=None):
        self.port = _free_port()
        self.tls, self.ca, self.login = tls, ca, login
        self.mails = []
        self.holding = threading.Event()
        self.arrived = threading.Condition()
        self.controller = None

    @property
    def url(self):
        scheme = {None: "smtp", "starttls": "smtp+starttls", "smtps": "smtps"}[self.tls]
        auth = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        return f"{scheme}://{auth}localhost:{self.port}" if self.tls else f"{scheme}://{auth}127.0.0.1:{self.port}"

    def _ssl_context(self):
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        return context

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()) == tuple(self.login):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self):
        options = {}
        if self.login:
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.tls == "starttls")
        if self.tls == "starttls":
            options.update(tls_context=self._ssl_context(), require_starttls=True)
        elif self.tls == "smtps":
            options.update(ssl_context=self._ssl_context())
        self.controller = _Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     server_hostname="localhost", ready_timeout=10, **options)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def _received(self, mail):
        with self.arrived:
            self.mails.append(mail)
            self.arrived.notify_all()

    def wait_for(self, count, timeout=30):
        """Wait until ``count`` mails have arrived; answers them all (raises on timeout)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.mails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.mails)} of {count} mails arrived in {timeout} s: {self.mails}")
                self.arrived.wait(left)
            return list(self.mails)

    def to(self, address):
        return [mail for mail in self.mails if address in mail.recipients]


class Request:
    """One request the HTTP receiver took."""

    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Request {self.method} {self.path}>"


class HTTPReceiver:
    """A threaded HTTP server on 127.0.0.1 that records every request. ``fail_next(n,
    status)`` answers the next n requests with that status; ``hold`` delays answers."""

    def __init__(self):
        self.port = _free_port()
        self.requests = []
        self.failures = []  # statuses to answer, first first
        self.holding = threading.Event()
        self.arrived = threading.Condition()
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count, status=500):
        self.failures.extend([status] * count)

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                while receiver.holding.is_set():
                    time.sleep(0.05)
                status = receiver.failures.pop(0) if receiver.failures else 200
                with receiver.arrived:
                    receiver.requests.append(Request("POST", self.path, dict(self.headers), body))
                    receiver.arrived.notify_all()
                answer = json.dumps({"ok": status < 400}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} of {count} requests arrived in {timeout} s")
                self.arrived.wait(left)
            return list(self.requests)
