"""The pricing catalog as editable tables: validated before save, written atomically with a .bak of the old file, audited."""
from __future__ import annotations

import typing
from pathlib import Path

import pandas as pd
import streamlit as st

from backend.context import RequestContext
from backend.economics.catalog import SECTION_TITLES, SECTIONS, Catalog, catalog_from_sections, catalog_to_data
from backend.economics.catalog_audit import save_catalog_as
from backend.models import GroundworkError
from components.auth import request_context
from components.platform import get_platform

_GENERATION = "econ_catalog_generation"
_FLASH = "econ_catalog_saved"


def _column_config(model) -> dict:
    config = {}
    for name, info in model.model_fields.items():
        options = typing.get_args(info.annotation) if typing.get_origin(info.annotation) is typing.Literal else ()
        if options:
            config[name] = st.column_config.SelectboxColumn(name, options=list(options), help=info.description, required=True)
        elif info.annotation is bool:
            config[name] = st.column_config.CheckboxColumn(name, help=info.description, default=False)
        elif info.annotation in (int, float):
            config[name] = st.column_config.NumberColumn(name, help=info.description, required=True)
        else:
            config[name] = st.column_config.TextColumn(name, help=info.description, required=True)
    return config


def _not_saved(message: str) -> str:
    """The one-line validation message as a list, one problem (row and field) per line, so several can be read."""
    head, _, problems = message.partition(": ")
    parts = problems.split("; ")
    if not head.startswith("pricing catalog") or len(parts) < 2:
        return f"Not saved: {message}"
    return f"Not saved: {len(parts)} problems in the {head}:\n" + "\n".join(f"- {part}" for part in parts)


def catalog_editor(catalog: Catalog, path: Path, ctx: RequestContext | None = None) -> None:
    """One table per section; 'Validate and save' checks every row and writes only a catalog that loads, in the
    audit log as the signed-in user (`ctx`, else this session's)."""
    generation = st.session_state.get(_GENERATION, 0)
    if _FLASH in st.session_state:
        st.success(st.session_state.pop(_FLASH))
    st.caption(f"Editing `{path}`. Every row needs a source and a date (YYYY-MM-DD). Saving validates all rows first, "
               f"writes atomically, keeps the previous file as `{path.name}.bak` and records what changed in the "
               "audit log.")
    data = catalog_to_data(catalog)
    edited: dict[str, pd.DataFrame] = {}
    for tab, section in zip(st.tabs([SECTION_TITLES[s] for s in SECTIONS]), SECTIONS):
        model = SECTIONS[section]
        with tab:
            # figures first, provenance last, so the numbers are on screen without scrolling sideways
            figures = [f for f in model.model_fields if f not in ("name", "source", "date")]
            frame = pd.DataFrame(data[section], columns=["name", *figures, "source", "date"])
            edited[section] = st.data_editor(frame, num_rows="dynamic", hide_index=True, width="stretch",
                                             column_config=_column_config(model), key=f"catalog_{section}_{generation}")
    if st.button("Validate and save", type="primary", icon=":material/save:"):
        try:
            updated = catalog_from_sections({s: frame.to_dict("records") for s, frame in edited.items()}, base=catalog)
            backup = save_catalog_as(updated, path, get_platform().gateway, ctx or request_context())
        except GroundworkError as exc:
            st.error(_not_saved(str(exc)), icon=":material/error:")
        except OSError as exc:
            st.error(f"Not saved: cannot write {path}: {exc}")
        else:
            # New editor keys, so the saved rows are not edited a second time on the next run.
            st.session_state[_GENERATION] = generation + 1
            st.session_state[_FLASH] = f"Saved {path.name}; the previous version is {backup.name}."
            st.rerun()
