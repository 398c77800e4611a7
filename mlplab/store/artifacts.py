"""A run's artifact folder (``artifacts/<run-id>/``): safe names and atomic writes, readable as the user's
umask says (FILE_MODE), their I/O errors one line (store.faults)."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

from ..errors import BadInput
from .encoding import dumps
from .faults import faults

# The files of a run's folder, named once: training.record writes them, mlplab.stored and the edges read them.
SPEC = "spec.yaml"                    # the run's resolved spec
MODEL_SUMMARY = "summary.txt"         # Keras' summary of its model
HISTORY = "history.csv"               # one row per epoch
STATS = "stats.json"                  # per-epoch statistics (the doctor's and the figures')
PREDICTIONS = "predictions.npz"       # the test rows' probabilities and labels
INITIAL_WEIGHTS = "weights_init.npz"  # the weights it started from, by variable name
FINAL_WEIGHTS = "weights_final.npz"   # its trained weights, by variable name
MODEL = "model.keras"                 # written when a population of one ends, else when first needed
POPULATION = "population.npz"         # a population's model config and non-trainable state (its first run's folder)
HIDDEN = "hidden.npz"                 # a single run's last hidden layer on the t-SNE's test samples
SCALING = "scaling.json"              # the statistics its inputs were scaled with (data.Scaling)
PROGRESS = "progress.json"            # a running run's latest in-epoch progress
REPAIR = "repair.json"                # its latest repair's report


def _umask() -> int:
    mask = os.umask(0o022)   # reading the umask means setting it: set it back at once
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()   # what open() would give a new file: an artifact's mode (a temp file's is 0o600)


def _safe_id(run_id: str) -> str:
    if not run_id or "/" in run_id or "\\" in run_id or run_id in (".", "..") or "\0" in run_id:
        raise BadInput(f"run id {run_id!r}: not a valid run id (letters, digits and '-' only)")
    return run_id


def _safe_relpath(name: str) -> Path:
    p = Path(name)
    if not name or p.is_absolute() or any(part in ("..", "") for part in p.parts) or "\0" in name:
        raise ValueError(f"artifact name {name!r}: must be a relative path inside the run folder")
    return p


def _remove(p: Path) -> None:
    try:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    except OSError:
        pass



class ArtifactFolders:
    """The artifact half of a Store: `self.artifacts` is the folder of run folders."""
    artifacts: Path
    home: Path

    def artifact_dir(self, run_id: str) -> Path:
        """The run's folder, made if missing: for writers (readers check it with stored.run_folder)."""
        d = self.artifacts / _safe_id(run_id)
        with faults(self.home):
            d.mkdir(parents=True, exist_ok=True)
        return d

    def _target(self, run_id: str, name: str) -> Path:
        target = self.artifact_dir(run_id) / _safe_relpath(name)
        with faults(self.home):
            target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_artifact(self, run_id: str, name: str, data: bytes | str) -> Path:
        """Write ``artifacts/<run>/<name>`` atomically (temp file in the same folder + os.replace)."""
        target = self._target(run_id, name)
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        with faults(self.home):
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    os.fchmod(f.fileno(), FILE_MODE)
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except BaseException:
                _remove(Path(tmp))
                raise
        return target

    def write_json(self, run_id: str, name: str, obj: Any) -> Path:
        """Atomic JSON artifact; NaN/inf written as "NaN"/"Infinity" (read back with :func:`loads`)."""
        return self.write_artifact(run_id, name, dumps(obj, indent=2) + "\n")

    @contextlib.contextmanager
    def artifact_writer(self, run_id: str, name: str) -> Iterator[Path]:
        """Yield a temp path (same folder, same suffix) to write into; renamed into place on success.

        The temp path does not exist yet (so writers like ``model.save`` that refuse
        or prompt on existing files are happy). On an exception it is removed and
        the target is left untouched.
        """
        target = self._target(run_id, name)
        suffix = "".join(target.suffixes[-1:])
        tmp = target.with_name(f".{target.stem}.tmp-{uuid.uuid4().hex[:8]}{suffix}")
        with faults(self.home):
            try:
                yield tmp
                if not tmp.exists():
                    raise FileNotFoundError(f"artifact_writer: nothing was written to {tmp} for {target}")
                os.chmod(tmp, FILE_MODE)
                os.replace(tmp, target)
            except BaseException:
                _remove(tmp)
                raise
