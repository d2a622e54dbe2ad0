"""Sending one message through its channel: email (SMTP), Slack, Telegram, a signed webhook.

``send(delivery)`` either returns (the receiver took the message) or raises ``SendError``,
``permanent`` when trying again cannot help (an address refused, a webhook answering 404, the
rule gone). Error messages are shown to admins, so they never carry a password, token,
secret, webhook URL path or reader address.
"""

import base64
import hashlib
import hmac
import json
import re
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import unquote, urlsplit

import urllib3
from flask import current_app
from flask_babel import gettext as _

from ..checks import fetch
from ..db import db
from ..models import Submission, utcnow
from . import messages

SMTP_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# The most of an answer read from a webhook, Slack or Telegram.
MAX_ANSWER_BYTES = 64 * 1024
# Webhook answers worth another try: a timeout, too many requests, any server error.
RETRY_STATUSES = (408, 429)


class SendError(Exception):
    """A message not sent. ``permanent``: trying again cannot help. The message is safe to
    show admins."""

    def __init__(self, message, permanent=False):
        super().__init__(message)
        self.permanent = permanent


def _user_agent():
    try:
        return f"Copydesk/{version('copydesk')}"
    except PackageNotFoundError:
        return "Copydesk"


def _timeout():
    return float(current_app.config["NOTIFY_TIMEOUT_SECONDS"])


# --- Email ---

_ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"']+")


def _scrub(text):
    """A mail server's words, without any address in them (a reader's, say)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(_ADDRESS.sub("<address>", str(text)).split())[:200]


def _mail_domain(sender):
    return parseaddr(sender)[1].rpartition("@")[2] or "copydesk.invalid"


def build_email(content, to, message_id):
    """A multipart/alternative message (text and HTML) from ``messages.Email``."""
    sender = current_app.config["MAIL_FROM"]
    msg = EmailMessage()
    msg["Subject"] = content.subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    # Derived from the delivery, so a re-send after a crash carries the same id.
    msg["Message-ID"] = f"<{message_id}@{_mail_domain(sender)}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(content.text)
    msg.add_alternative(content.html, subtype="html")
    return msg


def _smtp_connection(url):
    parts = urlsplit(url)
    host, port, timeout = parts.hostname, parts.port or SMTP_PORTS[parts.scheme], _timeout()
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if parts.scheme == "smtp+starttls":
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise SendError(_("The mail server %(server)s does not offer STARTTLS, which "
                                  "smtp+starttls:// requires; nothing was sent.", server=":".join((host, str(port)))))
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_email(content, to, message_id):
    """Send ``messages.Email`` to one address over COPYDESK_SMTP_URL."""
    url = current_app.config["SMTP_URL"]
    if not url:
        raise SendError(_("COPYDESK_SMTP_URL is not set"))
    try:
        msg = build_email(content, to, message_id)
    except (ValueError, TypeError) as err:  # an address the email library refuses
        raise SendError(_("The address is not usable: %(error)s", error=_scrub(err)), permanent=True) from None
    host = urlsplit(url).hostname
    try:
        with _smtp_connection(url) as smtp:
            smtp.send_message(msg, from_addr=parseaddr(current_app.config["MAIL_FROM"])[1], to_addrs=[to])
    except SendError:
        raise
    except smtplib.SMTPAuthenticationError as err:
        raise SendError(_("The mail server %(server)s refused the login (%(code)s): check the "
                          "user and password in COPYDESK_SMTP_URL.", server=host, code=err.smtp_code)) from None
    except smtplib.SMTPRecipientsRefused as err:
        code, answer = next(iter(err.recipients.values()))
        raise SendError(_("The mail server refused the address (%(answer)s).",
                          answer=" ".join((str(code), _scrub(answer)))),
                        permanent=code >= 500) from None
    except smtplib.SMTPNotSupportedError as err:
        raise SendError(_("The mail server %(server)s cannot take this message: %(error)s", server=host,
                          error=_scrub(err)),
                        permanent=True) from None
    except smtplib.SMTPDataError as err:
        raise SendError(_("The mail server refused the message (%(answer)s).",
                          answer=" ".join((str(err.smtp_code), _scrub(err.smtp_error)))),
                        permanent=err.smtp_code >= 500) from None
    except smtplib.SMTPResponseException as err:
        raise SendError(_("The mail server %(server)s answered %(answer)s.", server=host,
                          answer=" ".join((str(err.smtp_code), _scrub(err.smtp_error))))) from None
    except ssl.SSLCertVerificationError as err:
        raise SendError(_("The mail server %(server)s's TLS certificate is not trusted: %(error)s.", server=host,
                          error=err.verify_message)) from None
    except (socket.timeout, TimeoutError):
        raise SendError(_("The mail server %(server)s did not answer within %(seconds)s s.", server=host,
                          seconds=format(_timeout(), "g"))) from None
    except (smtplib.SMTPException, OSError) as err:
        raise SendError(_("Could not reach the mail server %(server)s: %(error)s.", server=host,
                          error=_scrub(err) or type(err).__name__)) from None


def send_test_email(address, site):
    """A test email to one address, now (``copydesk notify test``, the dashboard)."""
    import secrets
    send_email(messages.test_email(site), address, "test_" + secrets.token_hex(12))


def _reader_address(delivery):
    submission = db.session.get(Submission, delivery.submission_id) if delivery.submission_id else None
    if submission is None or not submission.reader_email:
        raise SendError(_("The reader's address has been erased."), permanent=True)
    return submission


# --- HTTP: Slack, Telegram, webhooks ---

def _addresses(parts, port, name):
    """The addresses ``parts.hostname`` resolves to, each checked (the page checks' rule,
    ``checks.fetch.is_public``): a private, loopback, link-local or reserved one is refused
    unless COPYDESK_NOTIFY_ALLOW_PRIVATE, so a rule cannot make the desk reach into its own
    network (and a test's answer cannot tell what listens there)."""
    try:
        addresses = fetch.resolve_host(parts.hostname, port)
    except fetch.FetchError:
        raise SendError(_("Could not reach %(name)s (its name does not resolve).", name=name)) from None
    if not addresses:
        raise SendError(_("Could not reach %(name)s (its name has no address).", name=name))
    if not current_app.config["NOTIFY_ALLOW_PRIVATE"]:
        if not all(fetch.is_public(address) for address in addresses):
            raise SendError(_("%(name)s is at a private, loopback or link-local address, which the desk "
                              "does not send to (COPYDESK_NOTIFY_ALLOW_PRIVATE allows it).", name=name),
                            permanent=True)
    return addresses


def _post(url, body, headers=None, name=None):
    """POST ``body`` (bytes); answer (status, up to 64 KiB of the body). The host is resolved
    once and checked (``_addresses``), and the connection goes to exactly a checked address
    (Host, SNI and the certificate still use the name), so a second DNS answer cannot send
    it elsewhere. Redirects are not followed. ``name`` is how errors name the receiver (never
    its full URL: it may hold a token)."""
    parts = urlsplit(url)
    name = name or parts.hostname
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        port = None
    if port is None or not parts.hostname:
        raise SendError(_("%(name)s: not an http(s) address that can be reached.", name=name), permanent=True)
    addresses = _addresses(parts, port, name)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"host": parts.netloc.rpartition("@")[2], "content-type": "application/json",
               "user-agent": _user_agent(), **(headers or {})}
    options = dict(timeout=urllib3.Timeout(total=_timeout()), retries=False, maxsize=1)
    answer, pool, reason = None, None, "could not connect"
    for address in addresses:
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=parts.hostname,
                                               assert_hostname=parts.hostname, cert_reqs="CERT_REQUIRED",
                                               **options)
        else:
            pool = urllib3.HTTPConnectionPool(address, port, **options)
        try:
            answer = pool.urlopen("POST", target, body=body, headers=headers, redirect=False,
                                  preload_content=False)
            break
        except urllib3.exceptions.NewConnectionError:
            pool.close()  # refused or unreachable: the next address, if any
        except urllib3.exceptions.TimeoutError:
            pool.close()
            raise SendError(_("%(name)s did not answer within %(seconds)s s.", name=name,
                              seconds=format(_timeout(), "g"))) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            pool.close()
            reason = type(getattr(err, "reason", None) or err).__name__
            break
    if answer is None:
        raise SendError(_("Could not reach %(name)s (%(reason)s).", name=name, reason=reason))
    try:
        data = answer.read(MAX_ANSWER_BYTES)
    except (urllib3.exceptions.HTTPError, OSError):
        data = b""
    finally:
        answer.close()
        pool.close()
    return answer.status, data


def _refused(name, status, detail=""):
    """The SendError for an HTTP answer that is not a success."""
    if 300 <= status < 400:
        return SendError(_("%(name)s answered %(status)s (a redirect; they are not followed): %(detail)s.", name=name,
                           status=status, detail=detail) if detail else
                         _("%(name)s answered %(status)s (a redirect; they are not followed).", name=name,
                           status=status), permanent=True)
    return SendError(_("%(name)s answered %(status)s: %(detail)s.", name=name, status=status, detail=detail)
                     if detail else _("%(name)s answered %(status)s.", name=name, status=status),
                     permanent=400 <= status < 500 and status not in RETRY_STATUSES)


def _rule_of(delivery):
    if delivery.rule is None:
        raise SendError(_("The notification rule for this message has been removed."), permanent=True)
    return delivery.rule


def send_slack(url, payload):
    status, _answer = _post(url, json.dumps(payload).encode(), name=f"Slack ({urlsplit(url).hostname})")
    if not 200 <= status < 300:
        raise _refused(f"Slack ({urlsplit(url).hostname})", status)


def send_telegram(token, chat_id, text):
    base = str(current_app.config["TELEGRAM_API_URL"]).rstrip("/")
    body = {"chat_id": chat_id, "text": text, "parse_mode": "HTML", "disable_web_page_preview": True}
    status, data = _post(f"{base}/bot{token}/sendMessage", json.dumps(body).encode(), name="Telegram")
    if 200 <= status < 300:
        return
    try:
        answer = json.loads(data)
        description = str(answer.get("description") or "")[:200]
        retry_after = (answer.get("parameters") or {}).get("retry_after")
    except (ValueError, AttributeError):
        description, retry_after = "", None
    if token:
        description = description.replace(token, "…")
    if retry_after:
        description = _("%(description)s (retry after %(seconds)s s)", description=description, seconds=retry_after)
    raise _refused("Telegram", status, description.strip())


def webhook_secrets(rule, now=None):
    """The secrets a webhook is signed with: the current one, and the previous one while
    receivers move over to the new (until ``previous_secret_until``)."""
    now = now or utcnow()
    keys = [rule.secret]
    if rule.previous_secret and rule.previous_secret_until and rule.previous_secret_until > now:
        keys.append(rule.previous_secret)
    return keys


def sign(secrets, msg_id, timestamp, body):
    """The ``webhook-signature`` header (Standard Webhooks): ``v1,<base64 HMAC-SHA256>`` of
    ``"{msg_id}.{timestamp}.{body}"`` per secret, space-separated. A secret is ``whsec_``
    and its key in base64."""
    if isinstance(body, str):
        body = body.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signatures = []
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode())
    return " ".join(signatures)


def send_webhook(rule, msg_id, payload):
    """POST a signed payload; the same ``msg_id`` on every retry lets receivers drop repeats."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp,
               "webhook-signature": sign(webhook_secrets(rule), msg_id, timestamp, body)}
    name = _("The webhook at %(host)s", host=urlsplit(rule.target).hostname)
    status, _answer = _post(rule.target, body, headers, name=name)
    if not 200 <= status < 300:
        raise _refused(name, status)


# --- The entry points ---

def send(delivery):
    """Send one ``Delivery`` now (in an app context); raises ``SendError``."""
    if delivery.channel == "email":
        if delivery.kind == "reader-thanks":
            submission = _reader_address(delivery)
            return send_email(messages.reader_thanks_email(submission), submission.reader_email,
                              delivery.public_id)
        if not delivery.items:
            raise SendError(_("The reports of this message have been deleted."), permanent=True)
        return send_email(messages.email_for(delivery), delivery.recipient, delivery.public_id)
    rule = _rule_of(delivery)
    if not delivery.items:
        raise SendError(_("The reports of this message have been deleted."), permanent=True)
    if delivery.channel == "slack":
        return send_slack(rule.target, messages.slack_payload(delivery))
    if delivery.channel == "telegram":
        return send_telegram(rule.token, rule.target, messages.telegram_text(delivery))
    if delivery.channel == "webhook":
        return send_webhook(rule, delivery.public_id, messages.webhook_payload(delivery))
    raise SendError(_("Unknown channel %(channel)r.", channel=delivery.channel), permanent=True)


def send_test(rule):
    """A test message through a channel rule (slack, telegram, webhook, email), now. People
    rules (everyone, editor, author) are tested per address with ``send_test_email``."""
    import secrets
    if rule.recipient == "email":
        return send_test_email(rule.target, rule.site)
    if rule.recipient == "slack":
        return send_slack(rule.target, messages.slack_payload(site=rule.site))
    if rule.recipient == "telegram":
        return send_telegram(rule.token, rule.target, messages.telegram_text(site=rule.site))
    if rule.recipient == "webhook":
        return send_webhook(rule, "msg_test_" + secrets.token_hex(8), messages.webhook_payload(site=rule.site))
    raise SendError(f"A {rule.recipient} rule reaches people: test each address with send_test_email.",
                    permanent=True)
