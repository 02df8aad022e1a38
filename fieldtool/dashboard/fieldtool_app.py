"""The dashboard as ``fieldtool dashboard`` serves it: ``app.py`` in an ``st.App`` with the
map's tile route (:mod:`fieldtool.dashboard.tileroute`), so the map's tiles come from the
dashboard's own address and port.

``streamlit run fieldtool/dashboard/fieldtool_app.py -- --db PATH`` is the same; Streamlit
finds ``app`` below and serves it (with uvicorn). The file's name is its module's name
then (Streamlit imports it by its stem), hence one no other module has.
"""

from pathlib import Path

import streamlit as st

from fieldtool.dashboard.tileroute import tile_routes

app = st.App(Path(__file__).with_name("app.py"), routes=tile_routes())
