"""One NaN encoding for everything the store writes.

* REAL columns: SQLite turns a bound NaN into NULL, so NaN is stored as the
  text ``'NaN'`` (infinities are stored as REAL, SQLite keeps them).
* JSON columns and JSON artifacts: NaN/inf become the strings ``"NaN"``,
  ``"Infinity"``, ``"-Infinity"`` (so the JSON is standard and any reader
  can parse it) and are turned back into floats when read. The CLI's ``--json``
  and the dashboard's JSON use the same encoding (`jsonable`, `dumps`).
"""
from __future__ import annotations

import json
import math
import os
from typing import Any

_NAN_STRINGS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode(x: float) -> Any:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def jsonable(o: Any) -> Any:
    """Turn ``o`` into plain JSON data; NaN/inf become strings."""
    if o is None or isinstance(o, (str, bool, int)):
        return o
    if isinstance(o, float):  # includes numpy.float64
        return _encode(float(o))
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in o]
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if hasattr(o, "tolist"):  # numpy scalars and arrays, without importing numpy
        return jsonable(o.tolist())
    # Free-form summaries must never make a finished run fail to record.
    return str(o)


def dumps(o: Any, **kw: Any) -> str:
    """JSON text of ``o`` with NaN/inf as strings (standard JSON)."""
    return json.dumps(jsonable(o), allow_nan=False, **kw)


def _decode(o: Any) -> Any:
    if isinstance(o, str):
        return _NAN_STRINGS.get(o, o)
    if isinstance(o, dict):
        return {k: _decode(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_decode(v) for v in o]
    return o


def loads(text: str | None, default: Any = None) -> Any:
    """Inverse of :func:`dumps`: the strings "NaN"/"Infinity"/"-Infinity" become floats."""
    if text is None or text == "":
        return default
    return _decode(json.loads(text))


def real(x: float | None) -> Any:
    """Value to bind for a REAL column (NaN would silently become NULL)."""
    if x is None:
        return None
    x = float(x)
    return "NaN" if math.isnan(x) else x


def unreal(x: Any) -> Any:
    if isinstance(x, str):
        return _NAN_STRINGS.get(x, x)
    return x


def metric(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"metric value {v!r} is not a number") from None
