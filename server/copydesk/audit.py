"""The desk's audit trail: one function every change an admin (or the CLI) makes goes
through, so the Audit page tells who did what, when, whatever the path."""

import json

from .db import db
from .models import AuditEntry


def _words(subject):
    """A row in words that outlive it ("site 3 (Daily News)"); text as it is."""
    if isinstance(subject, str):
        return subject
    label = getattr(subject, "email", None) or getattr(subject, "name", None) or getattr(subject, "title", None)
    words = f"{subject.__tablename__} {subject.id}"
    return f"{words} ({label})" if label else words


def record(action, subject, by=None, **detail):
    """Add an AuditEntry to the session; the caller commits it with its own change, so a
    change and its entry are kept or lost together. ``subject``: a row (an Editor, a
    Site, a Report...) or words; ``by``: the Editor who acted, None for the desk itself
    and the CLI; ``detail``: JSON-able facts, never reader text."""
    editor = getattr(by, "_get_current_object", lambda: by)()  # current_user is a proxy
    subject = getattr(subject, "_get_current_object", lambda: subject)()
    entry = AuditEntry(editor_id=editor.id if editor is not None else None, action=action,
                       subject=_words(subject)[:300], detail_json=json.dumps(detail, sort_keys=True, default=str))
    db.session.add(entry)
    return entry
