"""Take the README's screenshots: `python docs/screenshots.py` (needs Debian's chromium).

Starts the app on a temporary database, files a report through the widget and
photographs the reader's dialog and the editor's report page.
"""

import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent


def main():
    import os
    tmp = tempfile.mkdtemp()
    os.environ["COPYDESK_INSTANCE_PATH"] = tmp
    from flask_migrate import upgrade

    from copydesk import create_app
    from copydesk.demo import seed_demo
    app = create_app({"SECRET_KEY": "screenshots"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    with app.app_context():
        upgrade()
        seed_demo([base], password="screenshot-password")
    threading.Thread(target=server.serve_forever, daemon=True).start()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1100, "height": 720}, device_scale_factor=1)
        page.goto(base + "/demo/")
        page.evaluate("""() => {
            const p = [...document.querySelectorAll('article p')].find(e => e.textContent.includes('principle'));
            const node = [...p.childNodes].find(n => n.nodeType === 3 && n.data.includes('principle'));
            const at = node.data.indexOf('principle keeper');
            const r = document.createRange(); r.setStart(node, at); r.setEnd(node, at + 'principle keeper'.length);
            getSelection().removeAllRanges(); getSelection().addRange(r);
        }""")
        page.keyboard.press("Control+Enter")
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Comment").fill("A lighthouse's chief keeper is the principal keeper.")
        dialog.get_by_label("Suggested correction").fill("principal keeper")
        page.wait_for_timeout(300)
        page.screenshot(path=str(HERE / "widget-dialog.png"))
        dialog.get_by_role("button", name="Send").click()
        dialog.get_by_text("Thank you").wait_for()

        page.goto(base + "/login")
        page.get_by_label("Email").fill("editor@demo.copydesk")
        page.get_by_label("Password").fill("screenshot-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Report #1").click()
        page.screenshot(path=str(HERE / "dashboard-report.png"), full_page=False)
        browser.close()
    server.shutdown()
    print("wrote", HERE / "widget-dialog.png", "and", HERE / "dashboard-report.png")


if __name__ == "__main__":
    sys.exit(main())
