"""Shared pieces of the widget's browser tests: a second origin that serves
publisher pages embedding the widget, text selection, and database reads."""

import json
import subprocess
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from copydesk.db import db
from copydesk.models import Report, Site, Submission

PAGES_DIR = Path(__file__).resolve().parent
ROOT = PAGES_DIR.parent.parent
AXE = ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"

THANKS = "Thank you! Now the editors are aware."
LANGUAGES = ["en", "ru", "uk", "kk", "be", "de", "fr", "es", "it", "pt", "pl", "tr", "ar", "he"]
KINDS = ["typo", "fact", "link", "other"]


@cache
def widget_texts():
    """{name: value} of widget/src/texts.mjs (TEXTS, CODES, KINDS, PAGE), read with node."""
    script = ("import('./widget/src/texts.mjs').then(m => process.stdout.write(JSON.stringify("
              "{TEXTS: m.TEXTS, CODES: m.CODES, KINDS: m.KINDS, PAGE: m.PAGE})))")
    return json.loads(subprocess.run(["node", "-e", script], cwd=ROOT, capture_output=True, check=True).stdout)


def texts(lang):
    """The widget's texts in one language."""
    return widget_texts()["TEXTS"][lang]
MAC_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36")
# navigator.userAgentData keeps the host's platform under a UA override; pin both.
MAC_PLATFORM = """
Object.defineProperty(Navigator.prototype, 'platform', {get: () => 'MacIntel'});
Object.defineProperty(Navigator.prototype, 'userAgentData', {get: () => ({platform: 'macOS'})});
"""

# Selects from the first occurrence of `start` to the end of the first later
# occurrence of `end`, both matched inside single text nodes of the page.
SELECT_JS = """([start, end, backwards, within]) => {
  const scope = within ? document.querySelector(within) : document.body;
  const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
  let a = null, b = null;
  for (let n; (n = walker.nextNode());) {
    if (!a && n.data.includes(start)) a = [n, n.data.indexOf(start)];
    if (a && n.data.includes(end) && (n !== a[0] || n.data.indexOf(end, a[1]) >= 0)) {
      b = [n, n.data.indexOf(end, n === a[0] ? a[1] : 0) + end.length];
      break;
    }
  }
  if (!a || !b) throw new Error('text not found: ' + start + ' … ' + end);
  const sel = getSelection();
  if (backwards) sel.setBaseAndExtent(b[0], b[1], a[0], a[1]);
  else sel.setBaseAndExtent(a[0], a[1], b[0], b[1]);
  return sel.toString();
}"""


def select_text(page, start, end=None, backwards=False, within=None):
    """Select page text from `start` through `end` (default: just `start`)."""
    return page.evaluate(SELECT_JS, [start, end or start, backwards, within])


def submissions(app):
    """Every stored send, with its report's captured fields."""
    with app.app_context():
        return db.session.execute(
            sa.select(Report.exact, Report.prefix, Report.suffix, Report.position, Report.title,
                      Report.page_url, Report.canonical_url, Report.lang, Report.article_id,
                      Report.article_section, Report.article_author, Report.article_published,
                      Submission.comment, Submission.suggestion, Submission.idempotency_key)
            .join(Report, Report.id == Submission.report_id).order_by(Submission.id)).all()


class PageServer:
    """Publisher pages on a second origin: files from tests/widget_pages/ (with
    ``{{desk}}`` and ``{{site}}`` filled in) and pages registered by a test."""

    def __init__(self, desk, site_key):
        self.desk, self.site_key = desk, site_key
        self.pages = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                if path in server.pages:
                    body, headers = server.pages[path]
                elif path.endswith((".html", ".js")) and (PAGES_DIR / path.lstrip("/")).is_file():
                    body, headers = (PAGES_DIR / path.lstrip("/")).read_text(), {}
                else:
                    self.send_error(404)
                    return
                data = server.fill(body).encode()
                self.send_response(200)
                kind = "text/javascript" if path.endswith(".js") else "text/html"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for name, value in headers.items():
                    self.send_header(name, server.fill(value))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def fill(self, text):
        return text.replace("{{desk}}", self.desk).replace("{{site}}", self.site_key)

    def url(self, path):
        return self.origin + path

    def add(self, path, html, headers=None):
        self.pages[path] = (html, headers or {})
        return self.url(path)

    def article(self, path, body, html_attrs='lang="en"', head="", script_attrs="", headers=None):
        """A minimal publisher page with the widget embedded the documented way."""
        return self.add(path, f"""<!doctype html>
<html {html_attrs}><head><meta charset="utf-8"><title>Widget test page</title>{head}
<script src="{{{{desk}}}}/static/copydesk.js" data-site="{{{{site}}}}" {script_attrs} defer></script>
</head><body>{body}</body></html>""", headers)

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


def allow_origin(app, site_key, origin):
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.key == site_key))
        site.allowed_origins = [*site.allowed_origins, origin]
        db.session.commit()


@pytest.fixture
def pages(live_server, demo):
    """A second origin (allowed for the demo site) serving publisher pages."""
    server = PageServer(live_server.url, demo["site_key"])
    allow_origin(live_server.app, demo["site_key"], server.origin)
    yield server
    server.stop()


def press_left_to_the_page(page, key):
    """Press `key` (ending in Enter) and tell whether the widget left it to the page: the
    widget decides while the key event runs, and takes a key it acts on (preventDefault)."""
    page.evaluate("""() => { window.__enterLeft = null;
        addEventListener('keydown', e => { if (e.key === 'Enter') window.__enterLeft = !e.defaultPrevented; }); }""")
    page.keyboard.press(key)
    page.wait_for_function("window.__enterLeft !== null")
    return page.evaluate("window.__enterLeft")


def open_dialog(page, key="Control+Enter"):
    """Press the trigger and wait for the dialog to show."""
    page.keyboard.press(key)
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    return dialog
