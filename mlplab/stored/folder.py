"""A stored run's folder, as every reader finds it: there, or gone (removed by hand).

The store makes a run's folder when it creates the run (store.artifacts' `artifact_dir`, for writers);
readers take it from `run_folder`, which says so when it is gone instead of making an empty one.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from ..store import Store


def missing_folder(store: Store, run_id: str) -> str | None:
    """The line saying that the run's folder is gone, or None while it is there."""
    folder = store.artifacts / run_id
    return None if folder.is_dir() else f"run {run_id}: its folder {folder} is missing (deleted?)"


def run_folder(store: Store, run_id: str) -> Path:
    """The run's folder (artifacts/<id>/); BadInput when it is gone."""
    missing = missing_folder(store, run_id)
    if missing:
        raise BadInput(missing)
    return store.artifacts / run_id
