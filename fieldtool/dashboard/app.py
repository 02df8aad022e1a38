"""The dashboard app: navigation, the database path and the filters the pages share.

``fieldtool dashboard --db PATH`` runs this script with Streamlit (``streamlit run
fieldtool/dashboard/app.py -- --db PATH [--config FILE]`` is the same); the repository's
``streamlit_app.py`` runs it too. The pages are scripts in ``fieldtool/dashboard/screens``.
The database and who may use the app are the server's settings (:mod:`.access`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from fieldtool.dashboard import access
from fieldtool.dashboard.data import database_problem, load_sessions
from fieldtool.dashboard.screens import common
from fieldtool.types import FieldtoolError

# (file in fieldtool/dashboard/screens, title, uses the sidebar filters). No page icons:
# Streamlit fetches Material icons for the navigation from Google Fonts.
PAGES = (
    ("map.py", "Map", True),
    ("review.py", "Review queue", True),
    ("species.py", "Species", True),
    ("models.py", "Models", False),
    ("live.py", "Live session", False),
    ("sql.py", "SQL", False),
)
_ROLE_KEY = "_fieldtool_role"
WAIT_FOR_DB_S = 3.0  # s between looks for a database not written yet


def _rerun_once_written(path: Path) -> None:
    if path.exists():
        st.rerun()  # the whole app, now with the file


def _signed_in(secrets: dict) -> access.Role | None:
    """The role of this browser session: asks for the shared secret when one is set."""
    if not secrets:
        return "reviewer"  # served on this machine only (check_exposure)
    role = st.session_state.get(_ROLE_KEY)
    if role:
        return role
    with st.form("sign_in"):
        given = st.text_input("Access token", type="password", key="_token_given")
        sent = st.form_submit_button("Sign in")
    if sent:
        role = access.role_for(given, secrets)
        if role is None:
            st.error("Wrong token.")
            return None
        st.session_state[_ROLE_KEY] = role
        st.session_state.pop("_token_given", None)
        st.rerun()
    return None


def main() -> None:
    st.set_page_config(page_title="fieldtool", layout="wide")
    # No traceback, no "Ask Google / ChatGPT" buttons: an error is one message.
    st.set_option("client.showErrorDetails", "none")
    try:
        settings = access.settings_from_args(sys.argv[1:], os.environ)
        secrets = access.tokens(settings, os.environ)
        served = st.get_option("server.address") or settings.address
        access.check_exposure(settings.model_copy(update={"address": served}), os.environ)
    except FieldtoolError as exc:
        st.error(str(exc))
        return
    role = _signed_in(secrets)
    if role is None:
        return
    pages = [
        st.Page(common.PAGES_DIR / name, title=title, default=i == 0)
        for i, (name, title, _) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    if st.get_option("browser.gatherUsageStats"):
        st.warning(
            "Usage statistics are on, so the browser contacts Streamlit's servers. Start the "
            "dashboard with `fieldtool dashboard` or add `--browser.gatherUsageStats false`."
        )
    with_filters = {p.url_path for p, spec in zip(pages, PAGES, strict=True) if spec[2]}
    choices = access.databases(settings)
    if len(choices) > 1:  # the config allows a folder: pick from its files, no free text
        picked = st.sidebar.selectbox(
            "Database file", [str(p) for p in choices], key="db_choice",
            format_func=lambda p: Path(p).name,
        )  # fmt: skip
        db_path = access.pick_database(settings, picked)
    else:
        db_path = settings.db
        st.sidebar.caption(f"Database: {db_path.name}")
    problem = database_problem(db_path)
    if problem:
        st.error(problem)
        if not Path(db_path).exists() and Path(db_path).parent.is_dir():
            # Started before the session that writes it: look again, no reload needed.
            st.fragment(run_every=WAIT_FOR_DB_S)(_rerun_once_written)(Path(db_path))
        return
    try:
        common.refresh_mark(db_path)
    except FieldtoolError as exc:
        st.error(str(exc))
        return
    filters = None
    if page.url_path in with_filters:
        try:
            sessions = load_sessions(db_path, timeout_s=common.QUERY_TIMEOUT_S)
            filters = common.sidebar_filters(db_path, sessions)
        except FieldtoolError as exc:
            st.error(str(exc))
            return
    common.set_context(common.Context(db_path, filters, role=role, settings=settings))
    try:
        page.run()
    except Exception as exc:  # noqa: BLE001  (anything unforeseen: one line, no traceback)
        common.show_unexpected(exc)


if __name__ == "__main__":  # streamlit runs the script as __main__
    main()
