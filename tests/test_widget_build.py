"""The committed widget build: within its byte budgets in every language, complete in every
language, reproducible from source, and free of HTML-parsing DOM APIs."""

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
LANGUAGES = ["en", "ru", "uk", "kk", "be", "de", "fr", "es", "it", "pt", "pl", "tr", "ar", "he"]
[DIALOG] = [path.name for path in STATIC.glob("copydesk-dialog.*.js")]
RELEASE = DIALOG.split(".")[1]
# What a build writes: the loader, the dialog, the page texts of each language and the dialog
# texts of each but English (built into the dialog).
BUILT = (["copydesk.js", DIALOG] + [f"copydesk-{lang}.{RELEASE}.json" for lang in LANGUAGES]
         + [f"copydesk-dialog-{lang}.{RELEASE}.json" for lang in LANGUAGES if lang != "en"])


def gzipped(name):
    return len(gzip.compress((STATIC / name).read_bytes(), compresslevel=9, mtime=0))


def served(name):
    return (STATIC / f"{name}.gz").stat().st_size


def test_the_build_is_exactly_these_files():
    widget_files = {path.name for path in STATIC.glob("copydesk*")}
    assert widget_files == {name + suffix for name in BUILT for suffix in ("", ".gz", ".br")}


@pytest.mark.parametrize("measure", [gzipped, served], ids=["gzip-9", "served"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_page_load_fits_in_2_kib_gzipped_in_every_language(lang, measure):
    # Every page loads the loader and its language's page texts; nothing else until the reader acts.
    assert measure("copydesk.js") + measure(f"copydesk-{lang}.{RELEASE}.json") <= 2048


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_reader_who_reports_loads_at_most_9_kib_gzipped(lang):
    files = ["copydesk.js", f"copydesk-{lang}.{RELEASE}.json", DIALOG]
    if lang != "en":
        files.append(f"copydesk-dialog-{lang}.{RELEASE}.json")
    assert sum(served(name) for name in files) <= 9216


@pytest.mark.parametrize("name", BUILT)
def test_compressed_copies_hold_the_built_file(name):
    assert gzip.decompress((STATIC / f"{name}.gz").read_bytes()) == (STATIC / name).read_bytes(), (
        f"static/{name}.gz is stale: run `make widget` and commit the result")
    if shutil.which("node"):
        unpacked = subprocess.run(["node", "-e", "process.stdout.write(require('zlib').brotliDecompressSync("
                                   "require('fs').readFileSync(0)))"], input=(STATIC / f"{name}.br").read_bytes(),
                                  capture_output=True, check=True).stdout
        assert unpacked == (STATIC / name).read_bytes()


def test_every_language_has_every_text():
    # The build refuses a language that lacks a text; this checks what it wrote.
    names = json.loads((STATIC / f"copydesk-dialog-ru.{RELEASE}.json").read_text()).keys()
    thanks = set()
    for lang in LANGUAGES[1:]:
        texts = json.loads((STATIC / f"copydesk-dialog-{lang}.{RELEASE}.json").read_text(encoding="utf-8"))
        assert texts.keys() == names and all(texts.values()), lang
        assert {"{n}" in texts["limit"], "{n}" in texts["rate"]} == {True}, lang
        assert re.search(r"(Ctrl|Strg) \+ (Enter|Entrée|Invio)", texts["hint"]), lang
        thanks.add(texts["thanks"])
        page = json.loads((STATIC / f"copydesk-{lang}.{RELEASE}.json").read_text(encoding="utf-8"))
        assert page == [texts["hint"], texts["hintTap"], texts["kept"], texts["close"]]
    assert len(thanks) == len(LANGUAGES) - 1  # each in its own words
    assert json.loads((STATIC / f"copydesk-en.{RELEASE}.json").read_text())[0] == (
        "If you find an error, please select a piece of text and press Ctrl + Enter")


def test_the_loader_names_this_release():
    assert f'"{RELEASE}"' in (STATIC / "copydesk.js").read_text()


def test_committed_build_matches_a_fresh_build(tmp_path):
    if not shutil.which("node") or not (ROOT / "widget" / "node_modules" / "esbuild").is_dir():
        pytest.skip("needs node and `npm ci` in widget/ (make test does both)")
    subprocess.run(["node", str(ROOT / "widget" / "build.mjs"), "--outdir", str(tmp_path)], check=True, cwd=ROOT)
    fresh = {path.name for path in tmp_path.glob("copydesk*")}
    assert fresh == {path.name for path in STATIC.glob("copydesk*")}, (
        "static/ holds another build: run `make widget` and commit the result")
    for name in BUILT:
        assert (tmp_path / name).read_bytes() == (STATIC / name).read_bytes(), (
            f"static/{name} is stale: run `make widget` and commit the result")
        # Compared unpacked: another zlib may pack the same bytes differently.
        assert gzip.decompress((tmp_path / f"{name}.gz").read_bytes()) == (STATIC / name).read_bytes()
    # Internal property names stay the same from release to release (see widget/README.md).
    assert (tmp_path / "mangle-cache.json").read_text() == (ROOT / "widget" / "mangle-cache.json").read_text(), (
        "widget/mangle-cache.json is stale: run `make widget` and commit the result")


@pytest.mark.parametrize("path", sorted((ROOT / "widget" / "src").glob("*.js")) + [STATIC / n for n in BUILT[:2]],
                         ids=lambda p: p.name)
def test_widget_never_parses_html_strings(path):
    # Page text can look like markup; only textContent and DOM APIs may carry it.
    source = path.read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment"
                         r"|DOMParser|\beval\(|new Function", source)


def test_loader_defines_no_global():
    # An IIFE with no `window.x =`: the page's own globals stay the only ones.
    source = (STATIC / "copydesk.js").read_text()
    assert source.startswith("(()=>{") and source.rstrip().endswith("})();")
