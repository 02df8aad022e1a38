"""Pages of the Streamlit dashboard (``streamlit run streamlit_app.py``).

Each ``*.py`` here except :mod:`common` is a page script that ``st.navigation`` runs after
``streamlit_app.py`` has set up the sidebar; :mod:`common` holds what pages share.
"""
