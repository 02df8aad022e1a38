"""Models page: the model versions that made the sightings, and per species what the
reviewers said of them: the precision a user trusts.

Every figure is SQL over all the sightings of the file, the sidebar filters aside
(:mod:`fieldtool.dashboard.trust`); the review in force is the newest one, an undone review
counts as none. Names that are one species are one row.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fieldtool.dashboard.screens import common
from fieldtool.dashboard.trust import load_model_versions, load_trust
from fieldtool.types import FieldtoolError

_ALL = "all"
_DEPENDS = ("sightings", "reviews", "sessions")
_PERCENT = st.column_config.NumberColumn(format="percent")


def _version_label(model_id: object, sha: object) -> str:
    name = str(model_id) if isinstance(model_id, str) and model_id else "(no model id)"
    return f"{name} · {str(sha)[:12]}" if isinstance(sha, str) and sha else name


def main() -> None:
    ctx = common.context()
    st.title("Models")
    try:
        versions = common.read(load_model_versions, ctx.db_path, depends=_DEPENDS)
    except FieldtoolError as exc:
        st.error(f"Could not read the database: {exc}")
        return
    st.subheader("Model versions")
    if versions.empty:
        st.info("No sessions recorded yet.")
        return
    st.dataframe(
        versions.assign(model_sha256=[str(s)[:16] for s in versions["model_sha256"]]).rename(
            columns={
                "model_id": "Model",
                "model_sha256": "SHA-256",
                "sessions": "Sessions",
                "sightings": "Sightings",
                "reviewed": "Reviewed",
                "confirmed": "Confirmed",
                "precision": "Confirmed share",
                "first_used": "First used (UTC)",
                "last_used": "Last used (UTC)",
            }
        ),  # fmt: skip
        hide_index=True,
        key="models_versions",
        column_config={
            "Confirmed share": _PERCENT,
            "First used (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Last used (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    keys = {_version_label(m, s): (str(m), str(s))
            for m, s in zip(versions["model_id"], versions["model_sha256"], strict=True)
            if isinstance(m, str)}  # fmt: skip
    st.subheader("Precision a user trusts")
    picked = st.selectbox("Model version", [_ALL, *keys], key="models_version",
                          format_func=lambda k: "Every model" if k == _ALL else k)  # fmt: skip
    try:
        trust = common.read(load_trust, ctx.db_path, keys.get(str(picked)), depends=_DEPENDS)
        _, labels = common.species_colours(ctx.db_path)
    except FieldtoolError as exc:
        st.error(f"Could not read the database: {exc}")
        return
    if trust.empty:
        st.info("No sightings from this model version.")
        return
    table = pd.DataFrame(
        {
            "Species": [labels(str(s)) for s in trust["species"]],
            "Machine sightings": trust["sightings"],
            "Confirmed": trust["confirmed"],
            "Relabelled away": trust["relabelled_away"],
            "Rejected": trust["rejected"],
            "Unreviewed": trust["unreviewed"],
            "Precision a user trusts": trust["precision"],
            "Relabelled to it": trust["relabelled_to"],
        }
    )
    st.dataframe(
        table, hide_index=True, key="models_trust",
        column_config={"Precision a user trusts": _PERCENT},
    )  # fmt: skip
    st.caption(
        "Precision a user trusts: of the species' machine sightings that have a review in "
        "force, the share confirmed (a relabel to another name of the same species counts as "
        "confirmed). Relabelled to it: other species' sightings the reviewers renamed to this "
        "one, which the model missed."
    )


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
