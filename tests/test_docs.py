"""The README is the front door: it must describe every setting and both commands."""

import re
from pathlib import Path

import pytest

from copydesk.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_readme_describes_every_setting(setting):
    row = re.search(rf"^\| `COPYDESK_{setting.name}` \|(.+)$", README, re.MULTILINE)
    assert row, f"COPYDESK_{setting.name} is missing from the README's configuration table"
    assert setting.help.split(".")[0] in row.group(1)


def test_readme_names_the_two_commands_and_the_snippet():
    assert "make run" in README and "make test" in README
    assert '<script src="https://desk.example.com/static/copydesk.js" data-site=' in README
