"""The dashboard app: navigation, the database path and the filters the pages share.

``fieldtool dashboard --db PATH`` runs this script with Streamlit (``streamlit run
fieldtool/dashboard/app.py -- --db PATH`` is the same); the repository's
``streamlit_app.py`` runs it too. The pages are scripts in ``fieldtool/dashboard/pages``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from fieldtool.dashboard.data import database_problem, db_path_from_args, load_sessions
from fieldtool.dashboard.pages import common
from fieldtool.types import FieldtoolError

# (file in fieldtool/dashboard/pages, title, uses the sidebar filters). No page icons:
# Streamlit fetches Material icons for the navigation from Google Fonts.
PAGES = (
    ("map.py", "Map", True),
    ("review.py", "Review queue", True),
    ("species.py", "Species", True),
    ("live.py", "Live session", False),
    ("sql.py", "SQL", False),
)


def main() -> None:
    st.set_page_config(page_title="fieldtool", layout="wide")
    pages = [
        st.Page(common.PAGES_DIR / name, title=title, default=i == 0)
        for i, (name, title, _) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    if st.get_option("browser.gatherUsageStats"):
        st.warning(
            "Usage statistics are on, so the browser contacts Streamlit's servers. Start the "
            "dashboard from the fieldtool folder (its .streamlit/config.toml turns them off) "
            "or add `--browser.gatherUsageStats false`."
        )
    with_filters = {p.url_path for p, spec in zip(pages, PAGES, strict=True) if spec[2]}

    default = db_path_from_args(sys.argv[1:], os.environ)
    db_text = st.sidebar.text_input("Database file", value=str(default))
    db_path = Path(db_text.strip()).expanduser()
    problem = database_problem(db_path)
    if problem:
        st.error(problem)
        return
    filters = None
    if page.url_path in with_filters:
        try:
            sessions = load_sessions(db_path, timeout_s=common.QUERY_TIMEOUT_S)
            filters = common.sidebar_filters(db_path, sessions)
        except FieldtoolError as exc:
            st.error(str(exc))
            return
    common.set_context(common.Context(db_path, filters))
    page.run()


if __name__ == "__main__":  # streamlit runs the script as __main__
    main()
