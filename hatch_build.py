"""The wheel's build step for the dashboard's languages: compiles each catalogue
(server/copydesk/translations/*/LC_MESSAGES/messages.po) into the .mo file Flask-Babel
reads, the way `make` does, and puts it in the wheel (compiled files are not in git)."""

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TRANSLATIONS = Path("server/copydesk/translations")


class CatalogueBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
        root = Path(self.root)
        for po_path in sorted((root / TRANSLATIONS).glob("*/LC_MESSAGES/messages.po")):
            locale = po_path.parent.parent.name
            with po_path.open("rb") as po_file:
                catalogue = read_po(po_file, locale=locale)
            # Next to its catalogue, where an editable install (and `make`) reads it too.
            mo_path = po_path.with_suffix(".mo")
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalogue)  # fuzzy entries left out, as `pybabel compile` does
            build_data["force_include"][str(mo_path)] = f"copydesk/translations/{locale}/LC_MESSAGES/messages.mo"
