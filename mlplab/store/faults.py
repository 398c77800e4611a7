"""Store I/O errors as one line: a full disk, a read-only or foreign-owned store, an I/O error.

Every read and write of a store (its SQLite transactions and queries, its artifact files) runs inside
`faults(home)`, which turns SQLite's and the operating system's errors of that kind into a StoreFault
(exit code 2) naming the store, the cause and what to do. Other errors (a bug, a busy store) pass
through as they are.
"""
from __future__ import annotations

import contextlib
import errno
import sqlite3
from pathlib import Path
from typing import Iterator

from ..errors import StoreFault

# kind: (what happened, what to do)
ADVICE = {
    "full": ("the disk is full", "free space on it or choose another store (--home or MLPLAB_HOME)"),
    "readonly": ("not writable", "choose a writable store (--home or MLPLAB_HOME)"),
    "io": ("disk I/O error", "check the disk, or choose another store (--home or MLPLAB_HOME)"),
}
ERRNO_KIND = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EFBIG: "full",
              errno.EROFS: "readonly", errno.EACCES: "readonly", errno.EPERM: "readonly", errno.EIO: "io"}


def kind_of(e: BaseException) -> str | None:
    """'full', 'readonly' or 'io' for a store I/O error; None for any other error."""
    if isinstance(e, sqlite3.OperationalError):
        text = str(e).lower()   # "database or disk is full", "attempt to write a readonly database", "disk I/O error"
        return next((k for k, words in (("full", ("is full",)), ("readonly", ("readonly", "read-only")),
                                         ("io", ("disk i/o",))) if any(w in text for w in words)), None)
    if isinstance(e, OSError):
        return ERRNO_KIND.get(e.errno)
    return None


def fault(e: BaseException, home: Path) -> StoreFault | None:
    """The one line a store I/O error becomes (None when `e` is not one)."""
    kind = kind_of(e)
    if kind is None:
        return None
    what, advice = ADVICE[kind]
    if isinstance(e, OSError):
        detail = e.strerror or str(e)
        detail += f": {e.filename}" if e.filename else ""
    else:
        detail = str(e)
    return StoreFault(f"store {home}: {what} ({detail}); {advice}")


@contextlib.contextmanager
def faults(home: Path) -> Iterator[None]:
    """Raise the store I/O errors of the block as a StoreFault naming `home`; others as they are."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as e:
        f = fault(e, home)
        if f is None:
            raise
        raise f from None
