"""Start the Streamlit app with file-based multipage mode off, so every URL runs app.py's st.navigation."""
from __future__ import annotations

import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli


def main(argv: list[str]) -> int:
    # Streamlit decides once per process, from the mere existence of pages/, to run in its old
    # "pages directory" mode, and leaves it only when app.py calls st.navigation. A first visitor
    # who opens a deep link (/chat) therefore gets the page without app.py: the wrong sidebar and
    # layout for every later session too. Deciding it up front keeps the fixed pages/ layout.
    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", "app.py", *argv]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
