"""README.md stays true: its configuration table is the one Settings generates, and it names the two commands."""
from pathlib import Path

from scripts.settings_table import END, START, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_configuration_table_matches_settings():
    text = README.read_text()
    table = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == settings_table(), "run `python scripts/settings_table.py --write`"


def test_readme_names_the_two_commands_and_ci_calls_the_second():
    text = README.read_text()
    assert "make run" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci
