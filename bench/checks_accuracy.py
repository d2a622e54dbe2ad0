"""How often a page check tells the truth: the confusion matrix of ``copydesk check``'s
states on a corpus of article pages and edits, served by a real local HTTP server.

Run: python bench/checks_accuracy.py  (no database, no browser; about ten seconds)

The corpus (bench/check_corpus/) holds news pages in several layouts, English and
Russian, with navigation, sidebars, footers, ads, dates and counters around the article.
``cases.json`` names reported phrases in them; every phrase goes through every edit:

  unchanged    the same page                                   -> still-there
  dynamic      dates, view and comment counters changed        -> still-there
  boilerplate  nav, sidebar, promos, related links changed too -> still-there
  typo-fixed   the phrase corrected (counters changed too)     -> changed
  moved        its sentence moved to another paragraph         -> moved
  rewritten    its whole paragraph rewritten                   -> changed
  removed-404, removed-410   the page deleted                  -> page-gone

The reader's report (prefix, selection, suffix, position) is taken from the unchanged
page's article text the way the widget captures it (tests/test_checks_browser.py checks
that the server reads the same text as the widget in Chromium). Each check goes through
the desk's own path: ``checks.inspect`` (SSRF-checked fetch, article text, re-anchoring).

Then each threshold of ``checks/anchor.py`` is swept, the others held, over the pages
already fetched: the accuracy at each value shows the margin the chosen value leaves.
Exits 1 if fewer than 98% are right or any unchanged article is called "changed".
"""

import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

import importlib  # noqa: E402
anchoring = importlib.import_module("copydesk.checks.anchor")
from copydesk.checks import inspect, locate  # noqa: E402
from copydesk.checks.fetch import fetch_page  # noqa: E402
from copydesk.checks.text import article_texts, node_text, page_title  # noqa: E402
from copydesk.models import Report, Site  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "check_corpus"
CONTEXT = 64  # characters of prefix and suffix the widget sends by default
TARGET = 0.98

BASE = {"updated": "24 November 2026, 09:12", "views": "1,204", "comments": "17", "year": "2026",
        "nav_extra": "", "ticker": "Markets open higher", "promo": "Subscribe for £1 a week",
        "most_read": "Storm closes the port", "related": "Ferry timetable for the winter"}
DYNAMIC = {"updated": "25 November 2026, 18:47", "views": "58,930", "comments": "342"}
BOILERPLATE = {"nav_extra": "<li><a href='/live'>Live</a></li>", "ticker": "Election results tonight",
               "promo": "Winter sale: 50% off", "most_read": "A completely different headline about trains",
               "related": "Council to vote on new cycle lanes", "year": "2027"}
SCENARIOS = [("unchanged", "still-there"), ("dynamic", "still-there"), ("boilerplate", "still-there"),
             ("typo-fixed", "changed"), ("moved", "moved"), ("rewritten", "changed"),
             ("removed-404", "page-gone"), ("removed-410", "page-gone")]
STATES = ("still-there", "changed", "moved", "page-gone", "unknown")
SWEEPS = {"SIDE_MATCH": [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0],
          "SURROUNDING_MATCH": [0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0],
          "PASSAGE_MATCH": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
          "MIN_SIDE": [1, 4, 8, 12, 16, 24, 32],
          "MAX_SHIFT": [0, 10, 25, 50, 100, 150, 200, 400, 1000],
          "LONG_EXACT": [4, 8, 12, 16, 24, 32, 64],
          "CARRIED": [1, 4, 8, 12, 16, 24, 32, 64]}
GONE_PAGE = "<!doctype html><html><body><nav>Home</nav><h1>Page not found</h1></body></html>"


def render(template, values):
    return re.sub(r"\{\{(\w+)\}\}", lambda match: values[match.group(1)], template)


def fragment_text(html):
    return node_text(LexborHTMLParser(f"<body><span>{html}</span></body>").body)


def capture(html, sentence, exact):
    """What the widget sends for a selection of ``exact`` inside ``sentence``."""
    sentence_text, exact_text = fragment_text(sentence), fragment_text(exact)
    text = next(text for text in article_texts(html) if sentence_text in text)
    position = text.index(sentence_text) + sentence_text.index(exact_text)
    end = position + len(exact_text)
    return dict(exact=exact_text, prefix=text[max(0, position - CONTEXT):position].lstrip(),
                suffix=text[end:end + CONTEXT].rstrip(), position=position, title=page_title(html))


def replace_once(html, old, new):
    assert html.count(old) == 1, f"not exactly once in the page: {old!r}"
    return html.replace(old, new)


def edited(template, phrase, scenario):
    """(status, html) of the page after the edit, or None when the phrase has no such edit."""
    if scenario.startswith("removed"):
        return int(scenario[-3:]), GONE_PAGE
    if scenario == "unchanged":
        return 200, render(template, BASE)
    html = render(template, {**BASE, **DYNAMIC, **(BOILERPLATE if scenario == "boilerplate" else {})})
    sentence = phrase["sentence"]
    if scenario == "typo-fixed":
        return 200, replace_once(html, sentence, sentence.replace(phrase["exact"], phrase["fixed"], 1))
    if scenario == "moved":
        if not phrase["move_after"]:
            return None
        html = replace_once(html, sentence, "")
        return 200, replace_once(html, phrase["move_after"], phrase["move_after"] + " " + sentence)
    if scenario == "rewritten":
        if not phrase["rewritten"]:
            return None
        paragraph = re.compile(r"(<(p|li)\b[^>]*>)((?:(?!</\2>).)*?" + re.escape(sentence) + r"(?:(?!</\2>).)*?)</\2>",
                               re.S)
        found = paragraph.findall(html)
        assert len(found) == 1, f"no single paragraph holds {sentence!r}"
        return 200, paragraph.sub(lambda match: match.group(1) + phrase["rewritten"] + f"</{match.group(2)}>", html)
    return 200, html


def build_cases():
    cases = json.loads((CORPUS / "cases.json").read_text())
    built = []
    for name, phrases in cases.items():
        if name.startswith("_"):
            continue
        template = (CORPUS / name).read_text()
        for number, phrase in enumerate(phrases):
            reported = capture(render(template, BASE), phrase["sentence"], phrase["exact"])
            # A sentence moved with all of the reported context inside it is, by the rule,
            # still there: the words with their prefix and suffix.
            carried = f"{reported['prefix']}{reported['exact']}{reported['suffix']}" in fragment_text(phrase["sentence"])
            for scenario, expected in SCENARIOS:
                if scenario == "moved" and carried:
                    expected = "still-there"
                page = edited(template, phrase, scenario)
                if page is not None:
                    built.append(dict(path=f"/{name[:-5]}/{number}/{scenario}", page=page, scenario=scenario,
                                      expected=expected, reported=reported, label=f"{name} #{number} {scenario}",
                                      holdout=phrase.get("set") == "holdout"))
    return built


class Server:
    def __init__(self, pages):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, html = pages.get(self.path, (404, GONE_PAGE))
                data = html.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def report_for(case, origin, site):
    report = Report(page_url=origin + case["path"], **case["reported"])
    report.site = site
    return report


def confusion(rows):
    """Print the matrix; returns (share right, unchanged articles called changed)."""
    matrix = Counter((expected, got) for _label, expected, got, _scenario in rows)
    print(f"{'expected/got':<14}" + "".join(f"{state:>13}" for state in STATES))
    for expected in STATES:
        if any(e == expected for e, _ in matrix):
            print(f"{expected:<14}" + "".join(f"{matrix[(expected, got)] or '.':>13}" for got in STATES))
    right = sum(count for (expected, got), count in matrix.items() if expected == got)
    false_changed = sum(1 for _label, expected, got, _s in rows if expected == "still-there" and got == "changed")
    return right / len(rows), false_changed


def main():
    cases = build_cases()
    server = Server({case["path"]: case["page"] for case in cases})
    site = Site(name="Bench")
    site.allowed_origins = [server.origin]

    started = time.perf_counter()
    rows, holdout = [], []
    for case in cases:
        result, _status = inspect(report_for(case, server.origin, site), allow_private=True,
                                  agent="Copydesk-Check/bench")
        rows.append((case["label"], case["expected"], result.state, case["scenario"]))
        holdout.append(case["holdout"])
    elapsed = time.perf_counter() - started

    print(f"Page checks on {len(cases)} cases ({len(cases) // len(SCENARIOS)}+ phrases × "
          f"{len(SCENARIOS)} edits, {len(list(CORPUS.glob('*.html')))} pages), "
          f"{elapsed / len(cases) * 1000:.1f} ms per check (fetch included)\n")
    share, false_changed = confusion(rows)
    by_scenario = Counter(scenario for _l, e, g, scenario in rows if e == g)
    totals = Counter(scenario for *_rest, scenario in rows)
    print("\nright per edit: " + ", ".join(f"{s} {by_scenario[s]}/{totals[s]}" for s, _ in SCENARIOS))
    print(f"\n{share:.1%} right (target {TARGET:.0%}); unchanged articles called changed: {false_changed}")
    later = [row for row, held in zip(rows, holdout) if held]
    if later:
        print(f"of which the held-out phrases (added after the thresholds were set): "
              f"{sum(e == g for _l, e, g, _s in later) / len(later):.1%} right of {len(later)}")
    for label, expected, got, _scenario in rows:
        if expected != got:
            print(f"  wrong: {label}: expected {expected}, got {got}")

    # The thresholds: one at a time across a range, over the pages fetched once.
    pages = {}
    for case in cases:
        if case["page"][0] == 200:
            pages[case["path"]] = fetch_page(server.origin + case["path"], site, agent="Copydesk-Check/bench",
                                             allow_private=True).html
    print("\nthreshold sweep (share right over the pages that answer 200; * = the value in anchor.py)")
    for name, values in SWEEPS.items():
        chosen = getattr(anchoring, name)
        cells = []
        for value in values:
            setattr(anchoring, name, value)
            outcomes = [(case["expected"], locate(pages[case["path"]], report_for(case, server.origin, site)).state)
                        for case in cases if case["path"] in pages]
            right = sum(expected == got for expected, got in outcomes) / len(outcomes)
            wrong_changed = sum(expected == "still-there" and got == "changed" for expected, got in outcomes)
            cells.append(f"{value}{'*' if value == chosen else ''}: {right:.0%}" + (f" ({wrong_changed} false changed)"
                                                                                 if wrong_changed else ""))
        setattr(anchoring, name, chosen)
        print(f"  {name:<18} " + ", ".join(cells))
    server.httpd.shutdown()
    return 0 if share >= TARGET and not false_changed else 1


if __name__ == "__main__":
    sys.exit(main())
