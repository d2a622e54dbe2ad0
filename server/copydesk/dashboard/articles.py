"""The article view: every report on one page, and the pages by open reports."""
