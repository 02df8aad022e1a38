"""fieldtool dashboard: map, review queue, species, live session and SQL over a sightings file.

Run with ``fieldtool dashboard --db PATH``, or ``streamlit run streamlit_app.py -- --db PATH``
(database from $FIELDTOOL_DB, else ``sightings.duckdb``). The app is
``fieldtool/dashboard/app.py``; this script is its entry point in a checkout. Run so, the
map's tiles come from a second port (the page starts a tile server of its own);
``fieldtool dashboard`` serves them on the dashboard's own (``fieldtool_app.py`` there).
"""

from fieldtool.dashboard.app import main

main()
