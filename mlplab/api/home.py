"""Which run store an API call uses: the API's one setting, kept in plain sight.

Every function that reads or writes runs takes `store=` (a Store, or a folder). A call
without it uses the session's home, first that applies:

    1. the folder given to `ml.set_home(folder)` in this Python session (`ml.set_home(None)` clears it)
    2. $MLPLAB_HOME
    3. ./mlplab-runs (as the CLI)

`ml.home()` says which folder that is now. The setting lives in `SESSION` (a `Home`) and
nowhere else; `set_home` returns the previous setting, so a caller can put it back.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..store import Store, default_home


class Home:
    """The session's default store folder (None: $MLPLAB_HOME, else ./mlplab-runs)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = path

    def folder(self) -> Path:
        return Path(self.path) if self.path is not None else default_home()

    def store(self, store: Store | str | os.PathLike | None = None) -> Store:
        """The store a call uses: the one it was given (a Store or a folder), else this home's."""
        if isinstance(store, Store):
            return store
        return Store(store if store is not None else self.path)

    def __repr__(self) -> str:
        source = "set_home" if self.path is not None else ("$MLPLAB_HOME" if os.environ.get("MLPLAB_HOME")
                                                           else "the default")
        return f"<mlplab home {self.folder()} (from {source})>"


SESSION = Home()


def set_home(path: str | os.PathLike | None) -> str | os.PathLike | None:
    """Use this run store for the calls that get no `store=` (None: $MLPLAB_HOME or ./mlplab-runs).

    Returns the previous setting: `old = ml.set_home(tmp); ...; ml.set_home(old)`."""
    previous, SESSION.path = SESSION.path, path
    return previous


def home() -> Path:
    """The folder of the store that calls without `store=` use now."""
    return SESSION.folder()


def store_of(store: Store | str | os.PathLike | None) -> Store:
    """The store a call uses (see the module's docstring for the order)."""
    return SESSION.store(store)
