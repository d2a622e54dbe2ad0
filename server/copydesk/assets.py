"""The widget's files, served so that article views rarely reach the desk.

Every article page loads ``/static/copydesk.js`` (the loader): it is sent with a lifetime (the
browser reuses it without asking), ``stale-while-revalidate``, and a content validator (after
the lifetime, a cheap ``304``). The files it fetches (the dialog code and the language files)
carry the release in their names (``copydesk-dialog.<release>.js``, ``copydesk-ru.<release>.json``):
they are immutable, cached for a year. Every file goes out as the brotli or gzip copy the widget
build writes next to it, whichever the browser takes (``Vary: Accept-Encoding``).

A loader cached before a release asks for the previous release's names (or, from before
releases had names, for ``copydesk-dialog.js``): those get the current file of the same name,
with the loader's short lifetime, never as immutable. The loader and the dialog of neighbouring
releases work together (``widget/mangle-cache.json``), so a loader cached for a day still opens
its dialog.
"""

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, request, send_file

bp = Blueprint("assets", __name__)

LOADER = "copydesk.js"
# After the lifetime, a browser may still run its copy for a day while it checks for a new one.
STALE_WHILE_REVALIDATE = 86400
IMMUTABLE_SECONDS = 365 * 86400
# copydesk-<name>[.<release>].<js|json>; <name> is "dialog", a language ("ru") or "dialog-<language>".
RELEASED = re.compile(r"copydesk-(?P<name>[a-z]+(?:-[a-z]+)?)(?:\.(?P<release>[0-9a-f]{6,64}))?\.(?P<type>js|json)")
MIMETYPES = {"js": "text/javascript", "json": "application/json"}
# Brotli first: it packs the widget smaller than gzip.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def init_app(app):
    app.register_blueprint(bp)


@lru_cache(maxsize=256)
def _content_tag(path, mtime_ns, size):
    # From the bytes, not the file's date: every app server gives the same file the same tag.
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


@lru_cache(maxsize=8)
def _current(folder, mtime_ns):
    """{(name, type): file name} of the build in ``folder`` (re-read when the folder changes)."""
    current = {}
    for entry in os.listdir(folder):
        found = RELEASED.fullmatch(entry)
        if found and found["release"]:
            current[found["name"], found["type"]] = entry
    return current


def _send(path, name, kind, max_age, immutable=False):
    for encoding, suffix in ENCODINGS:
        packed = path.with_name(path.name + suffix)
        if request.accept_encodings[encoding] > 0 and packed.is_file():
            path = packed
            break
    else:
        encoding = None
    stat = path.stat()
    response = send_file(path, mimetype=MIMETYPES[kind], download_name=name, conditional=True,
                         etag=_content_tag(str(path), stat.st_mtime_ns, stat.st_size), max_age=max_age)
    if encoding:
        response.content_encoding = encoding
    response.vary.add("Accept-Encoding")
    response.cache_control.public = True
    if immutable:
        response.cache_control.immutable = True
    elif response.cache_control.max_age:
        response.cache_control.stale_while_revalidate = STALE_WHILE_REVALIDATE
    if kind == "json":
        # The loader fetches the language files from the publisher's pages: public files, no cookies.
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def loader():
    path = Path(current_app.static_folder) / LOADER
    if not path.is_file():
        abort(404)  # the widget was never built (`make widget`)
    return _send(path, LOADER, "js", current_app.config["WIDGET_CACHE_SECONDS"])


def released(rest):
    """A file the loader fetches: the current build's is immutable; any other release's name
    (an older loader's, or a newer one's during a rolling deploy) gets today's file, briefly cached."""
    name = f"copydesk-{rest}"
    found = RELEASED.fullmatch(name)
    if not found:
        abort(404)
    folder = current_app.static_folder
    current = _current(folder, os.stat(folder).st_mtime_ns).get((found["name"], found["type"]))
    if current is None:
        abort(404)
    if current == name:
        return _send(Path(folder) / current, name, found["type"], IMMUTABLE_SECONDS, immutable=True)
    return _send(Path(folder) / current, name, found["type"], current_app.config["WIDGET_CACHE_SECONDS"])


# These rules win over Flask's own /static/<path:filename> for the widget's files only.
bp.add_url_rule(f"/static/{LOADER}", view_func=loader)
bp.add_url_rule("/static/copydesk-<path:rest>", view_func=released)
