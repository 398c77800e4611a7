"""Errors that reach the user as one clean line.

`BadInput` is for anything the user gave us (spec, data file, argument):
the CLI turns it into exit code 2 and a single message on stderr.
"""


class MlplabError(Exception):
    """Base class for errors mlplab reports without a traceback."""


class BadInput(MlplabError):
    """A spec value, data file or argument that cannot be used (exit code 2).

    The message names the field or file, the bad value and what is allowed.
    """


class StoreFault(BadInput, OSError):
    """The store's disk or files refused a read or write (full, read-only, no permission, I/O error): exit
    code 2, one line naming the store and the cause (store.faults makes it). An OSError too, so a writer
    that may fail (a cache of views: a read-only store keeps none) catches it as before."""


class RunFailed(MlplabError):
    """The run itself failed (exit code 1)."""
