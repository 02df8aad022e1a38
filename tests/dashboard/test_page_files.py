"""Where the dashboard's page modules live. Streamlit runs a folder named ``pages`` beside
an app's main script as pages of its own (its first multipage scheme, "MPA v1") when a
page's address (``/live``, a bookmark, a reload after a restart) is opened before the main
script has run ``st.navigation``: the page module then ran alone and failed ("open the
dashboard with streamlit run ..."). So no main script of the dashboard has one beside it."""

from __future__ import annotations

from fieldtool.dashboard.app import __file__ as app_file
from fieldtool.dashboard.fieldtool_app import __file__ as served_file
from tests.dashboard.test_pages import APP


def test_no_main_script_of_the_dashboard_has_a_pages_folder_beside_it():
    from pathlib import Path

    for script in (Path(app_file), Path(served_file), APP):
        assert not (script.parent / "pages").is_dir(), script
