"""The committed widget build: within its byte budgets, reproducible from source,
and free of HTML-parsing DOM APIs."""

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
BUILT = ["copydesk.js", "copydesk-dialog.js"]


def gzipped(path):
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def test_loader_fits_in_2_kib_gzipped():
    assert gzipped(STATIC / "copydesk.js") <= 2048


def test_loader_and_dialog_fit_in_6_kib_gzipped():
    assert sum(gzipped(STATIC / name) for name in BUILT) <= 6144


def test_served_gzip_copies_fit_the_budgets_too():
    # What browsers that take gzip actually download.
    assert (STATIC / "copydesk.js.gz").stat().st_size <= 2048
    assert sum((STATIC / f"{name}.gz").stat().st_size for name in BUILT) <= 6144


@pytest.mark.parametrize("name", BUILT)
def test_gzip_copy_holds_the_built_file(name):
    assert gzip.decompress((STATIC / f"{name}.gz").read_bytes()) == (STATIC / name).read_bytes(), (
        f"static/{name}.gz is stale: run `make widget` and commit the result")


def test_committed_build_matches_a_fresh_build(tmp_path):
    if not shutil.which("node") or not (ROOT / "widget" / "node_modules" / "esbuild").is_dir():
        pytest.skip("needs node and `npm ci` in widget/ (make test does both)")
    subprocess.run(["node", str(ROOT / "widget" / "build.mjs"), "--outdir", str(tmp_path)], check=True, cwd=ROOT)
    for name in BUILT:
        assert (tmp_path / name).read_bytes() == (STATIC / name).read_bytes(), (
            f"static/{name} is stale: run `make widget` and commit the result")
        # Compared unpacked: another zlib may pack the same bytes differently.
        assert gzip.decompress((tmp_path / f"{name}.gz").read_bytes()) == (STATIC / name).read_bytes()
    # Internal property names stay the same from release to release (see widget/README.md).
    assert (tmp_path / "mangle-cache.json").read_text() == (ROOT / "widget" / "mangle-cache.json").read_text(), (
        "widget/mangle-cache.json is stale: run `make widget` and commit the result")


@pytest.mark.parametrize("path", sorted((ROOT / "widget" / "src").glob("*.js")) + [STATIC / n for n in BUILT],
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
