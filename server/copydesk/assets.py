"""The widget's files, served so that article views rarely reach the desk.

Every article page loads ``/static/copydesk.js``: it is sent with a lifetime (the
browser reuses it without asking), a content validator (after the lifetime, a cheap
``304``), and the gzip copy the widget build writes next to each file.
"""

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, request, send_file

bp = Blueprint("assets", __name__)

WIDGET_FILES = ("copydesk.js", "copydesk-dialog.js")
# After the lifetime, a browser may still run its copy for a day while it checks for a new one.
STALE_WHILE_REVALIDATE = 86400


def init_app(app):
    app.register_blueprint(bp)


@lru_cache(maxsize=16)
def _content_tag(path, mtime_ns, size):
    # From the bytes, not the file's date: every app server gives the same file the same tag.
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


def widget_file(name):
    path = Path(current_app.static_folder) / name
    if not path.is_file():
        abort(404)  # the widget was never built (`make widget`)
    gzipped = path.with_name(name + ".gz")
    use_gzip = request.accept_encodings["gzip"] > 0 and gzipped.is_file()
    if use_gzip:
        path = gzipped
    stat = path.stat()
    response = send_file(path, mimetype="text/javascript", download_name=name, conditional=True,
                         etag=_content_tag(str(path), stat.st_mtime_ns, stat.st_size),
                         max_age=current_app.config["WIDGET_CACHE_SECONDS"])
    if use_gzip:
        response.content_encoding = "gzip"
    response.vary.add("Accept-Encoding")
    response.cache_control.public = True
    if response.cache_control.max_age:
        response.cache_control.stale_while_revalidate = STALE_WHILE_REVALIDATE
    return response


# Exact paths: they win over Flask's own /static/<path:filename> for these files only.
for _name in WIDGET_FILES:
    bp.add_url_rule(f"/static/{_name}", view_func=widget_file, defaults={"name": _name})
