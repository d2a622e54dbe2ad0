"""Bytes a reader's browser downloads for the widget, per language, against similar widgets.

Run: python bench/widget_size.py  (plain Python; reads the committed build in static/, including
the .gz and .br copies the desk serves to browsers that take gzip or brotli)

Page load: the loader and the page's language file (hint and notice texts), fetched by every
article view until cached. A reader who reports adds the dialog and, but for English (built in),
the dialog's language file.
"""

import gzip
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
LOADER = STATIC / "copydesk.js"
LANGUAGES = ["en", "ru", "uk", "kk", "be", "de", "fr", "es", "it", "pt", "pl", "tr", "ar", "he"]
PAGE_BUDGET = 2048  # gzip bytes at page load, whatever the language
REPORT_BUDGET = 9216  # gzip bytes when a reader reports (tests/test_widget_build.py checks both)
# gzipped sizes of what a page loads for comparable widgets.
PEERS = {
    "Orphus": 2519,
    "Hexlet's reporter": 2731,
    "Mistape (+ jQuery)": 7900,
}


def sizes(path):
    """(raw, gzip -9, served .gz, served .br) byte counts of one file."""
    data = path.read_bytes()
    served = [path.with_name(path.name + suffix) for suffix in (".gz", ".br")]
    return (len(data), len(gzip.compress(data, compresslevel=9, mtime=0)),
            *(file.stat().st_size if file.is_file() else len(data) for file in served))


def total(paths):
    return tuple(map(sum, zip(*(sizes(path) for path in paths))))


def main():
    [dialog] = STATIC.glob("copydesk-dialog.*.js")
    release = dialog.name.split(".")[1]
    print(f"release {release}\n")
    print(f"{'file':<36}{'raw':>7}{'gzip -9':>9}{'.gz':>7}{'.br':>7}")
    for path in [LOADER, dialog]:
        print(f"{path.name:<36}" + "".join(f"{n:>{w}}" for n, w in zip(sizes(path), (7, 9, 7, 7))))
    print()
    print(f"{'language':<10}{'page load: gzip -9':>20}{'.gz':>7}{'.br':>7}{'  reporting: .gz':>18}{'.br':>7}")
    over = False
    for lang in LANGUAGES:
        page = total([LOADER, STATIC / f"copydesk-{lang}.{release}.json"])
        dialog_texts = [] if lang == "en" else [STATIC / f"copydesk-dialog-{lang}.{release}.json"]
        report = total([LOADER, STATIC / f"copydesk-{lang}.{release}.json", dialog, *dialog_texts])
        over |= max(page[1:3]) > PAGE_BUDGET or report[2] > REPORT_BUDGET
        print(f"{lang:<10}{page[1]:>20}{page[2]:>7}{page[3]:>7}{report[2]:>18}{report[3]:>7}")
    print(f"{'budget':<10}{PAGE_BUDGET:>20}{PAGE_BUDGET:>7}{'':>7}{REPORT_BUDGET:>18}")
    heaviest = max(total([LOADER, STATIC / f"copydesk-{lang}.{release}.json"])[1] for lang in LANGUAGES)
    print()
    print(f"{'peer (gzipped page load)':<28}{'bytes':>8}{'ours, heaviest language':>26}")
    for name, gz in PEERS.items():
        print(f"{name:<28}{gz:>8}{heaviest / gz:>26.0%}")
    print("\nover budget!" if over else "\nwithin budget")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
