"""The run store: SQLite plus an artifact folder per run (see store.store)."""
from .store import SCHEMA_VERSION, STATUSES, Store, default_home, dumps, gone, jsonable, loads, new_id

__all__ = ["SCHEMA_VERSION", "STATUSES", "Store", "default_home", "dumps", "gone", "jsonable", "loads", "new_id"]
