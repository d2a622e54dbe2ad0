"""Print the README's configuration table from the settings declared in copydesk.config."""

from copydesk.config import SETTINGS

print("| variable | default | what it does |")
print("|---|---|---|")
for s in SETTINGS:
    default = "—" if s.default is None else f"`{s.default}`"
    print(f"| `COPYDESK_{s.name}` | {default} | {s.help} |")
