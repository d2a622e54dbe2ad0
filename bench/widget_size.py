"""Bytes a reader's browser downloads for the widget, against similar widgets.

Run: python bench/widget_size.py  (plain Python; reads the committed build in static/,
including the .gz copies the desk serves to browsers that take gzip)
"""

import gzip
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
LOADER, DIALOG = STATIC / "copydesk.js", STATIC / "copydesk-dialog.js"
LOADER_BUDGET = 2048  # gzip -9 bytes, downloaded on every page view
TOTAL_BUDGET = 6144  # loader + dialog, the dialog only when a reader reports
# gzipped sizes of what a page loads for comparable widgets.
PEERS = {
    "Orphus": 2519,
    "Hexlet's reporter": 2731,
    "Mistape (+ jQuery)": 7900,
}


def sizes(path):
    """(raw, gzipped at level 9, served .gz) byte counts of one file."""
    data = path.read_bytes()
    served = path.with_name(path.name + ".gz")
    return (len(data), len(gzip.compress(data, compresslevel=9, mtime=0)),
            served.stat().st_size if served.is_file() else len(data))


def main():
    loader, dialog = sizes(LOADER), sizes(DIALOG)
    total = tuple(a + b for a, b in zip(loader, dialog))
    print(f"{'file':<28}{'raw':>8}{'gzip -9':>10}{'served':>9}{'budget':>9}")
    for name, (raw, gz, served), budget in [(LOADER.name, loader, LOADER_BUDGET), (DIALOG.name, dialog, None),
                                            ("both (a reader reports)", total, TOTAL_BUDGET)]:
        print(f"{name:<28}{raw:>8}{gz:>10}{served:>9}{budget or '':>9}")
    print()
    print(f"{'peer (gzipped)':<28}{'bytes':>8}{'loader':>10}{'both':>9}")
    for name, gz in PEERS.items():
        print(f"{name:<28}{gz:>8}{loader[1] / gz:>9.0%}{total[1] / gz:>9.0%}")
    over = max(loader[1:]) > LOADER_BUDGET or max(total[1:]) > TOTAL_BUDGET
    print("\nover budget!" if over else "\nwithin budget")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
