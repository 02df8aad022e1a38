"""SQL page: read-only queries over the sightings database, result table and CSV download.

Only one SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE at a time; anything that writes or
reaches files, URLs, extensions or other databases is refused before it runs, and the
query runs on an engine of its own (the file attached read-only, memory and thread limits
of the ``dashboard`` settings, external access off; see
:func:`fieldtool.sqlbox.run_readonly_sql`, which ``fieldtool sql`` runs too). Queries of
all browsers queue for a few slots; a review makes running ones stop and says so.
"""

from __future__ import annotations

import streamlit as st

from fieldtool.dashboard.data import load_schema
from fieldtool.dashboard.screens import common
from fieldtool.sqlbox import run_readonly_sql
from fieldtool.types import FieldtoolError

EXAMPLE = """SELECT species, any_value(common_name) AS common_name, count(*) AS sightings,
       max(peak_score) AS best_score, min(first_seen) AS first_seen
FROM sightings
GROUP BY species
ORDER BY sightings DESC"""
_RESULT_KEY = "_sql_result"  # (sql, rows, truncated) of the last query run


def _schema(ctx: common.Context) -> None:
    try:
        schema = load_schema(ctx.db_path, timeout_s=common.QUERY_TIMEOUT_S)
    except FieldtoolError as exc:
        st.warning(str(exc))
        return
    lines = []
    for (kind, table), group in schema.groupby(["kind", "table_name"], sort=False):
        columns = ", ".join(
            f"{c} `{t}`" for c, t in zip(group["column_name"], group["data_type"], strict=True)
        )
        comment = str(group["comment"].iloc[0])
        about = f" ({kind}: {comment})" if comment else f" ({kind})"
        lines.append(f"- **{table}**{about}: {columns}")
    st.markdown("\n".join(lines))
    st.caption(
        "The newest review of a sighting is the one in force; reviews never change the "
        "sighting row. Times are UTC; media times (t, first_t, last_t) are seconds."
    )


def main() -> None:
    ctx = common.context()
    st.title("SQL")
    cfg = ctx.settings
    st.caption(
        "Read-only DuckDB SQL over the sightings file: one SELECT, WITH, DESCRIBE, SHOW or "
        f"SUMMARIZE at a time, at most {cfg.sql_max_rows:,} rows, stopped after "
        f"{cfg.sql_time_limit_s:g} s, {cfg.sql_memory_limit} of memory and "
        f"{cfg.sql_threads} threads each; {cfg.sql_slots} run at once, more wait their "
        "turn. Writes, file and network access are refused."
    )
    with st.expander("Tables and columns"):
        _schema(ctx)
    sql = st.text_area("Query", value=EXAMPLE, height=180, key="sql_text")
    if st.button("Run query", key="sql_run", type="primary", shortcut="Ctrl+Enter"):
        try:
            with st.spinner("Running (or waiting for a free slot)…"):
                rows, truncated = run_readonly_sql(
                    ctx.db_path, sql, max_rows=cfg.sql_max_rows,
                    time_limit_s=cfg.sql_time_limit_s, timeout_s=common.QUERY_TIMEOUT_S,
                    memory_limit=cfg.sql_memory_limit, threads=cfg.sql_threads,
                    gate=common.sql_gate(cfg.sql_slots),
                )  # fmt: skip
        except FieldtoolError as exc:
            st.session_state.pop(_RESULT_KEY, None)
            st.error(str(exc))
            return
        st.session_state[_RESULT_KEY] = (sql, rows, truncated)
    result = st.session_state.get(_RESULT_KEY)
    if result is None or result[0] != sql:
        st.caption("Run the query to see its rows (Ctrl+Enter).")
        return
    _, rows, truncated = result
    more = " (cut at the page's row or size limit; the query returned more)" if truncated else ""
    st.caption(f"{len(rows):,} rows{more}.")
    st.dataframe(rows, hide_index=True, key="sql_result")
    st.download_button(
        "Download CSV",
        rows.to_csv(index=False).encode("utf-8"),
        file_name="query.csv",
        mime="text/csv",
        key="sql_csv",
        on_click="ignore",
    )


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
