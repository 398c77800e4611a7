"""The run store: SQLite plus an artifact folder per run (see store.store)."""
from .database import SCHEMA_VERSION, default_home, new_id
from .encoding import dumps, jsonable, loads
from .liveness import gone
from .store import STATUSES, Store

__all__ = ["SCHEMA_VERSION", "STATUSES", "Store", "default_home", "dumps", "gone", "jsonable", "loads", "new_id"]
