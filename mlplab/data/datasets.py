"""Data sets: find them, read them, check them, scale and split them.

    raw = load_raw("mnist")                # arrays as stored (uint8 pixels, int labels)
    warnings = check_raw(raw, "mnist")     # BadInput on anything unusable
    ds = prepare(raw, "mnist", scale="unit", validation_split=0.1)
    ds = load_dataset("mnist")             # the three steps in one call

A data set is a built-in name (see `DATASETS`) or a path: a `.npz` file
(keys x_train, y_train, x_test, y_test), a `.csv` file, or a folder holding
the four standard IDX files. MNIST and Fashion-MNIST are searched in
`$MLPLAB_DATA/<name>/`, `~/.keras/datasets/` and `/usr/share/datasets/<name>/`,
then downloaded with pinned checksums unless `MLPLAB_OFFLINE=1`.

Anything wrong with the data the user gave raises `BadInput` with one line
naming the file or field, the bad value and what is allowed. This module uses
numpy (and scikit-learn for digits) only: no Keras, no JAX.
"""
from __future__ import annotations

import csv
import difflib
import gzip
import json
import hashlib
import math
import os
import struct
import urllib.error
import urllib.request
import zipfile
import zlib
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import BadInput

DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 8x8 handwritten digits: 1797 images, values 0..16, 10 classes",
    "mnist": "MNIST handwritten digits: 60000 + 10000 images of 28x28, values 0..255, 10 classes",
    "fashion-mnist": "Zalando's Fashion-MNIST: 60000 + 10000 images of 28x28 clothing, 10 classes",
    "cosine2d": "2-D toy problem: points on y = cos(x) (class 0) and y = a + cos(x) (class 1)",
}

SCALES = ("unit", "symmetric", "standard", "none")

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# The four IDX files, in the order train images, train labels, test images, test labels.
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# SHA-256 of the uncompressed files (checked after a download).
SHA256 = {
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "fashion-mnist/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion-mnist/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "fashion-mnist/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion-mnist/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}

MIRRORS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion-mnist": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
}
DOWNLOAD_TIMEOUT = 20.0  # seconds per network operation: fail fast when offline
SYSTEM_DIR = Path("/usr/share/datasets")  # Debian's dataset-* packages install here

CSV_TEST_FRACTION = 0.2


# ---------------------------------------------------------------- containers

@dataclass
class RawData:
    """A data set as loaded, before checking and preprocessing."""
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    class_names: list[str]
    source: str  # a path, "scikit-learn" or "generated"
    value_range: tuple[float, float] | None = None  # nominal range; None: use train min/max
    image_shape: tuple[int, int] | None = None      # None for non-image data


@dataclass
class DatasetInfo:
    name: str
    source: str
    class_names: list[str]
    num_classes: int
    input_shape: tuple[int, ...]
    image_shape: tuple[int, int] | None
    scale: str
    n_train: int
    n_val: int
    n_test: int
    class_counts: dict[str, list[int]]
    value_min: float
    value_max: float
    warnings: list[str]


@dataclass
class Dataset:
    """Model-ready arrays: float32 inputs, int32 class indices."""
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    info: DatasetInfo


# ---------------------------------------------------------------- IDX files

def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped if it is gzip (by name or by its magic bytes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if path.suffix == ".gz" or head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise BadInput(f"data file {path}: not a valid gzip file ({e})") from None
    except OSError as e:
        raise BadInput(f"data file {path}: cannot read it ({e.strerror or e})") from None


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise BadInput(f"data file {path}: cannot read it ({e.strerror or e})") from None


def read_idx(path: str | os.PathLike, kind: str) -> np.ndarray:
    """Read an IDX file of unsigned bytes: kind "images" -> (N, H, W), "labels" -> (N,)."""
    path = Path(path)
    magic_wanted, ndim = (0x00000803, 3) if kind == "images" else (0x00000801, 1)
    data = _read_bytes(path)
    header = 4 + 4 * ndim
    if len(data) < 4:
        raise BadInput(f"data file {path}: {len(data)} bytes, too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != magic_wanted:
        raise BadInput(f"data file {path}: magic number 0x{magic:08x}, expected 0x{magic_wanted:08x} "
                       f"(an IDX file of {kind} as unsigned bytes)")
    if len(data) < header:
        raise BadInput(f"data file {path}: truncated, {len(data)} bytes, shorter than its {header}-byte IDX header")
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    expected, held = math.prod(dims), len(data) - header
    if held != expected:
        what = (f"{dims[0]} images of {dims[1]}x{dims[2]}" if kind == "images" else f"{dims[0]} labels")
        unit = "pixel data" if kind == "images" else "label data"
        if held < expected:
            raise BadInput(f"data file {path}: truncated, header says {what} ({expected} bytes) "
                           f"but holds {held} bytes of {unit}")
        raise BadInput(f"data file {path}: header says {what} ({expected} bytes) "
                       f"but holds {held} bytes of {unit}, {held - expected} too many")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _idx_paths(folder: Path) -> tuple[list[Path], list[str]]:
    """The four IDX files in `folder` (each raw or .gz), and the names of those missing."""
    found, missing = [], []
    for base in IDX_FILES:
        dotted = base.replace("-idx", ".idx")  # as some re-distributions name them
        hits = [folder / n for n in (base, base + ".gz", dotted, dotted + ".gz") if (folder / n).is_file()]
        if hits:
            found.append(hits[0])
        else:
            missing.append(base)
    return found, missing


def _load_idx_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    paths, missing = _idx_paths(folder)
    if missing:
        raise BadInput(f"data folder {folder}: missing {', '.join(m + '[.gz]' for m in missing)}; "
                       f"an IDX folder holds {', '.join(IDX_FILES)} (each raw or .gz)")
    arrays = [read_idx(p, "images" if "images" in p.name else "labels") for p in paths]
    for (xi, yi) in ((0, 1), (2, 3)):
        if len(arrays[xi]) != len(arrays[yi]):
            raise BadInput(f"data files {paths[xi]} ({len(arrays[xi])} images) and {paths[yi]} "
                           f"({len(arrays[yi])} labels) disagree: each image needs one label")
    return tuple(arrays)


# ---------------------------------------------------------------- finding MNIST-family files

def _keras_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"


def _offline() -> bool:
    return os.environ.get("MLPLAB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def find_files(name: str) -> Path:
    """The folder (or Keras .npz file) holding `name` ("mnist" or "fashion-mnist").

    Searched in order: `$MLPLAB_DATA/<name>/` (or `$MLPLAB_DATA/<name>.npz`),
    `~/.keras/datasets/<name>.npz` and `~/.keras/datasets/<name>/` (where Keras
    caches them; `$KERAS_HOME` is honoured), `/usr/share/datasets/<name>/`.
    If none holds the four IDX files, they are downloaded into
    `~/.keras/datasets/<name>/` and their SHA-256 checked, unless
    `MLPLAB_OFFLINE=1`. Otherwise BadInput says which files to put where.
    """
    if name not in MIRRORS:
        raise BadInput(f"data.dataset = {json.dumps(str(name))}: no files to find, expected one of {', '.join(MIRRORS)}")
    candidates: list[Path] = []
    env = os.environ.get("MLPLAB_DATA")
    if env:
        candidates += [Path(env).expanduser() / f"{name}.npz", Path(env).expanduser() / name]
    keras_dir = _keras_dir()
    candidates += [keras_dir / f"{name}.npz", keras_dir / name, SYSTEM_DIR / name]
    for c in candidates:
        if c.suffix == ".npz":
            if c.is_file():
                return c
        elif c.is_dir() and not _idx_paths(c)[1]:
            return c

    files = ", ".join(f + ".gz" for f in IDX_FILES)
    where = f"{Path(env).expanduser() / name}/" if env else f"{keras_dir / name}/ (or set MLPLAB_DATA to a folder holding {name}/)"
    searched = ", ".join(str(c) for c in candidates)
    hint = f"dataset {name}: files not found; put {files} (or the same names without .gz) in {where}; searched {searched}"
    if _offline():
        raise BadInput(f"{hint}; download disabled by MLPLAB_OFFLINE")
    target = keras_dir / name
    try:
        _download(name, target)
    except _DownloadFailed as e:
        try:
            target.rmdir()  # only if the failed download left it empty
        except OSError:
            pass
        raise BadInput(f"{hint}; download failed: {e}") from None
    return target


class _DownloadFailed(Exception):
    pass


def _download(name: str, folder: Path) -> None:
    """Fetch the four gz files into `folder`, atomically, checking each one's SHA-256."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _DownloadFailed(f"cannot create {folder} ({e.strerror or e})") from None
    for base in IDX_FILES:
        target = folder / f"{base}.gz"
        if target.is_file() or (folder / base).is_file():
            continue  # left by an earlier, partly successful download (each file was checked)
        url = MIRRORS[name] + base + ".gz"
        tmp = folder / f".{base}.gz.{os.getpid()}.part"
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                payload = response.read()
            digest = hashlib.sha256(gzip.decompress(payload)).hexdigest()
            if digest != SHA256[f"{name}/{base}"]:
                raise _DownloadFailed(f"{url}: SHA-256 of the content is {digest}, "
                                      f"expected {SHA256[f'{name}/{base}']}")
            tmp.write_bytes(payload)
            os.replace(tmp, target)
        except (urllib.error.URLError, OSError, EOFError, zlib.error, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise _DownloadFailed(f"{url}: {reason}") from None
        finally:
            tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- user files

LABEL_RULE = "labels must be integer class indices 0..C-1 for C classes"


def _labels(y: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Class indices from index labels (N,), (N, 1) or one-hot (N, C)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2:
        one_hot = y.dtype.kind in "biuf" and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)
        if not one_hot:
            raise BadInput(f"data file {path}: {key} has shape {_shape(y.shape)} but its rows are not one-hot; "
                           f"expected class indices (N,) or one-hot rows (N, classes)")
        return np.argmax(y, axis=1)
    if y.ndim != 1:
        raise BadInput(f"data file {path}: {key} has shape {_shape(y.shape)}, expected class indices (N,) "
                       f"or one-hot (N, classes)")
    _check_indices(y, path, key)
    return y


def _check_indices(y: np.ndarray, path: Path, key: str) -> None:
    """BadInput on labels that are not whole numbers: text ("cat"), 1.5, NaN."""
    if y.dtype.kind not in "biuf":
        bad = np.ones(len(y), bool)
    elif y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
    else:
        return
    if bad.any():
        row = int(np.argmax(bad))
        hint = "; map each class name to its index (and save the names as class_names)" if y.dtype.kind in "US" else ""
        raise BadInput(f"data file {path}: {key} holds the label {_show(y[row])} (row {row}); {LABEL_RULE}{hint}")


def _num_classes(y_train: np.ndarray, y_test: np.ndarray, width: int | None, path: Path) -> int:
    """C for labels 0..C-1 (whole numbers): the one-hot width, else the largest label + 1."""
    if width is not None:
        return width
    n_classes = max((int(np.max(y)) for y in (y_train, y_test) if y.size), default=-1) + 1
    if n_classes > len(y_train):  # not every class can have a training row: a label column gone wrong
        raise BadInput(f"data file {path}: largest label {n_classes - 1} implies {n_classes} classes "
                       f"but there are only {len(y_train)} training rows; labels must be class indices 0..C-1")
    return n_classes


def _image_shape(x: np.ndarray) -> tuple[int, int] | None:
    if x.ndim == 3:
        return (x.shape[1], x.shape[2])
    if x.ndim == 2:
        s = math.isqrt(x.shape[1])
        if s * s == x.shape[1] and x.shape[1] >= 16:
            return (s, s)
    return None


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _load_npz(path: Path, class_names: list[str] | None = None) -> RawData:
    if not zipfile.is_zipfile(path):
        if _head(path, 2) == b"PK":  # a zip cut short (an interrupted copy or download)
            raise BadInput(f"data file {path}: not a readable .npz file (a damaged or truncated zip archive)")
        raise BadInput(f"data file {path}: not a .npz archive (a .npz file is a zip of arrays as numpy.savez "
                       f"writes it: x_train, y_train, x_test, y_test)")
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            missing = [k for k in NPZ_KEYS if k not in keys]
            if missing:
                raise BadInput(f"data file {path}: missing array(s) {', '.join(missing)}; "
                               f"expected x_train, y_train, x_test, y_test (found: {', '.join(sorted(keys)) or 'none'})")
            arrays = {k: _npz_array(z, k, path) for k in NPZ_KEYS}
            if class_names is None and "class_names" in keys:
                class_names = [str(c) for c in _npz_array(z, "class_names", path)]
    except BadInput:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise BadInput(f"data file {path}: not a readable .npz file ({e})") from None
    for k in NPZ_KEYS:
        if arrays[k].ndim == 0 or len(arrays[k]) == 0:
            raise BadInput(f"data file {path}: {k} has no rows; expected one row per sample")
    xs = {}
    for k in ("x_train", "x_test"):
        x = arrays[k]
        if x.ndim == 4 and x.shape[-1] == 1:  # (N, H, W, 1) as Keras conv nets take them
            x = x[..., 0]
        xs[k] = x
    width = arrays["y_train"].shape[1] if arrays["y_train"].ndim == 2 and arrays["y_train"].shape[1] > 1 else None
    y_train = _labels(arrays["y_train"], path, "y_train")
    y_test = _labels(arrays["y_test"], path, "y_test")
    if class_names is None:
        class_names = [str(i) for i in range(_num_classes(y_train, y_test, width, path))]
    is_bytes = xs["x_train"].dtype == np.uint8
    return RawData(xs["x_train"], y_train, xs["x_test"], y_test, class_names, str(path),
                   value_range=(0.0, 255.0) if is_bytes else None, image_shape=_image_shape(xs["x_train"]))


def _npz_array(z, key: str, path: Path) -> np.ndarray:
    try:
        return z[key]
    except ValueError as e:
        if "pickle" not in str(e):
            raise
        raise BadInput(f"data file {path}: {key} holds Python objects, which mlplab does not load; "
                       f"save it as an array of numbers (or of strings, for class_names)") from None


def _load_csv(path: Path) -> RawData:
    """A CSV of one row per sample: the label column plus feature columns.

    With a header row the label column is the one named `label`; without one
    it is the first column. A CSV has no separate test set: the LAST 20% of
    the rows (at least one) become the test set, so shuffle the file first
    if it is ordered by class. Features are read as float32 and scaled from
    the training min/max (value_range None).
    """
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            first = f.readline()
    except OSError as e:
        raise BadInput(f"data file {path}: cannot read it ({e.strerror or e})") from None
    if not first.strip():
        raise BadInput(f"data file {path}: no rows (the file is empty); expected one row per sample: "
                       f"a label column and feature columns")
    delimiter = next((d for d in (",", ";", "\t") if d in first), None)
    fields = [c.strip().strip('"').strip("'") for c in first.strip().split(delimiter)]
    has_header = any(not _is_number(c) for c in fields)
    label_col = 0
    if has_header:
        lowered = [c.lower() for c in fields]
        if "label" not in lowered:
            if len(fields) > 1 and all(_is_number(c) for c in fields[1:]):  # a data row whose label is text
                raise BadInput(_text_label(path, "the first column (the label)", fields[0], 1))
            raise BadInput(f"data file {path}: header has no column named 'label' "
                           f"(columns: {', '.join(fields[:6])}{', ...' if len(fields) > 6 else ''}); "
                           f"name the label column 'label', or drop the header to use the first column")
        label_col = lowered.index("label")
        with closing(_csv_rows(path, delimiter, 1)) as rows:
            empty = next(rows, None) is None
        if empty:
            raise BadInput(f"data file {path}: no rows after the header ({', '.join(fields[:6])}"
                           f"{', ...' if len(fields) > 6 else ''}); expected one row per sample")
    try:
        table = np.loadtxt(path, delimiter=delimiter, skiprows=int(has_header), dtype=np.float32,
                           ndmin=2, encoding="utf-8-sig", quotechar='"')
    except ValueError:
        raise BadInput(_csv_problem(path, delimiter, fields if has_header else None, label_col)) from None
    except OSError as e:
        raise BadInput(f"data file {path}: cannot read it ({e.strerror or e})") from None
    if table.shape[1] < 2:
        raise BadInput(f"data file {path}: 1 column; expected a label column and at least one feature column")
    if table.shape[0] < 2:
        raise BadInput(f"data file {path}: 1 data row; expected at least 2 (the last 20% become the test set)")
    y = table[:, label_col]
    x = np.ascontiguousarray(np.delete(table, label_col, axis=1))
    n_test = max(1, int(len(x) * CSV_TEST_FRACTION))
    cut = len(x) - n_test
    bad = ~np.isfinite(y) | (y != np.round(y))
    if bad.any():
        row = int(np.argmax(bad))
        raise BadInput(f"data file {path}: label {float(y[row]):g} in data row {row + 1}; "
                       f"expected integer class indices 0, 1, 2, ...")
    y = y.astype(np.int64)
    n_classes = _num_classes(y[:cut], y[cut:], None, path)
    return RawData(x[:cut], y[:cut], x[cut:], y[cut:], [str(i) for i in range(n_classes)], str(path),
                   value_range=None, image_shape=_image_shape(x))


def _csv_rows(path: Path, delimiter: str | None, skip: int) -> Iterator[tuple[int, list[str]]]:
    """(data row number from 1, cells) of each row after `skip` header lines; blank and # lines skipped."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        lines = (line.split("#", 1)[0] for i, line in enumerate(f) if i >= skip)
        lines = (line for line in lines if line.strip())
        rows = csv.reader(lines, delimiter=delimiter) if delimiter else (line.split() for line in lines)
        for number, cells in enumerate(rows, 1):
            yield number, [c.strip() for c in cells]


def _csv_problem(path: Path, delimiter: str | None, header: list[str] | None, label_col: int) -> str:
    """Why numpy could not read a CSV as numbers: the first ragged row or non-numeric cell."""
    width = None
    for number, cells in _csv_rows(path, delimiter, 1 if header else 0):
        width = width or len(cells)
        if len(cells) != width:
            return (f"data file {path}: data row {number} has {len(cells)} columns, the rows before it {width}; "
                    f"every row needs the same columns")
        for col, cell in enumerate(cells):
            if not _is_number(cell):
                name = f"column {json.dumps(header[col])}" if header and col < len(header) else f"column {col + 1}"
                if col == label_col:
                    return _text_label(path, name + " (the label)", cell, number)
                what = f"is empty in data row {number}" if cell == "" else f"holds {json.dumps(cell)} in data row {number}"
                return f"data file {path}: not a numeric CSV: {name} {what}; features must be numbers"
    return f"data file {path}: not a numeric CSV; expected numbers separated by {_show(delimiter or ' ')}"


def _text_label(path: Path, column: str, value: str, row: int) -> str:
    return (f"data file {path}: {column} holds {json.dumps(value)} in data row {row}; {LABEL_RULE} "
            f"(map each class to a number: 0, 1, 2, ...)")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _show(value) -> str:
    """A value as the user wrote it: 0.5, "cat", true; never a Python or numpy repr."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    return json.dumps(value, default=str)


def _shape(shape: tuple) -> str:
    """(3, 2) rather than numpy's (np.int64(3), ...) or a 1-tuple's trailing comma."""
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


# ---------------------------------------------------------------- built-in sets

def _digits() -> RawData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        d.images, d.target, test_size=0.2, random_state=0, stratify=d.target)
    return RawData(x_train, y_train, x_test, y_test, [str(i) for i in range(10)], "scikit-learn",
                   value_range=(0.0, 16.0), image_shape=(8, 8))


def _option(options: dict, key: str, default, kind: str):
    value = options.get(key, default)
    if value is None:
        value = default
    if kind == "int":
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if key == "n":
            ok = ok and value >= 4
            wanted = "an integer >= 4"
        else:
            ok = ok and value >= 0
            wanted = "an integer >= 0"
    else:
        ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)
        wanted = "a finite number"
        if key == "noise":
            ok = ok and value >= 0
            wanted = "a number >= 0"
    if not ok:
        raise BadInput(f"data.{key} = {json.dumps(value, default=str)}: expected {wanted}")
    return int(value) if kind == "int" else float(value)


COSINE2D_OPTIONS = ("n", "a", "noise", "seed")  # the parameters of `cosine2d`, as data options


def cosine2d(n: int = 1000, a: float = 1.0, noise: float = 0.0, seed: int = 0) -> RawData:
    """The 2-D toy problem: x1 ~ U[-pi, pi]; class 0 on x2 = cos(x1), class 1 on x2 = a + cos(x1).

    Gaussian noise of standard deviation `noise` is added to x2. The training
    set has `n` points, half per class (class 0 gets the odd one), in random
    order; the test set is a separate draw of max(n // 4, 2) points from the
    same random stream. Everything follows from `seed`.
    """
    rng = np.random.default_rng(seed)

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.permutation(np.arange(m) % 2)
        x1 = rng.uniform(-np.pi, np.pi, m)
        x2 = np.cos(x1) + a * y + noise * rng.standard_normal(m)
        return np.stack([x1, x2], axis=1), y

    x_train, y_train = draw(n)
    x_test, y_test = draw(max(n // 4, 2))
    return RawData(x_train, y_train, x_test, y_test, ["cos(x1)", "a + cos(x1)"], "generated",
                   value_range=None, image_shape=None)


def _resolve_name(name) -> str | Path:
    """A built-in name, or the Path of a user file/folder."""
    text = os.fspath(name) if isinstance(name, os.PathLike) else name
    if not isinstance(text, str) or not text.strip():
        raise BadInput(f"data.dataset = {json.dumps(str(name))}: expected one of {', '.join(DATASETS)} or a path")
    if text in DATASETS:
        return text
    path = Path(text).expanduser()
    if path.exists():
        return path
    alias = text.strip().lower().replace("_", "-")
    if alias in DATASETS or alias == "fashion":
        return "fashion-mnist" if alias == "fashion" else alias
    if os.sep in text or path.suffix.lower() in (".npz", ".csv"):
        raise BadInput(f"data.dataset = {json.dumps(text)}: no such file or folder")
    raise BadInput(f"data.dataset = {json.dumps(text)}: expected one of {', '.join(DATASETS)}, "
                   f"or a path to a .npz file, a .csv file or a folder of IDX files")


def load_raw(name: str, options: dict | None = None) -> RawData:
    """Load a data set as stored: a built-in name or a path (.npz, .csv, IDX folder).

    `options` are the generator's parameters for cosine2d (n, a, noise, seed);
    the other data sets take none.
    """
    options = {k: v for k, v in (options or {}).items() if v is not None}
    resolved = _resolve_name(name)
    for key in options:
        if resolved != "cosine2d" and key in COSINE2D_OPTIONS:
            raise BadInput(f"data.{key}: only for cosine2d (options {', '.join(COSINE2D_OPTIONS)}); "
                           f"dataset {_show(os.fspath(name))} takes none")
        if key not in COSINE2D_OPTIONS:
            near = difflib.get_close_matches(key, COSINE2D_OPTIONS, n=1) if resolved == "cosine2d" else []
            hint = f"did you mean {near[0]}? " if near else ""
            raise BadInput(f"data.{key}: unknown option; {hint}"
                           + (f"cosine2d's options are {', '.join(COSINE2D_OPTIONS)}" if resolved == "cosine2d"
                              else f"dataset {_show(os.fspath(name))} takes none"))

    if resolved == "digits":
        return _digits()
    if resolved == "cosine2d":
        return cosine2d(n=_option(options, "n", 1000, "int"), a=_option(options, "a", 1.0, "float"),
                        noise=_option(options, "noise", 0.0, "float"), seed=_option(options, "seed", 0, "int"))
    if resolved in ("mnist", "fashion-mnist"):
        names = FASHION_CLASSES if resolved == "fashion-mnist" else [str(i) for i in range(10)]
        path = find_files(resolved)
        if path.suffix == ".npz":
            raw = _load_npz(path, class_names=list(names))
        else:
            x_train, y_train, x_test, y_test = _load_idx_folder(path)
            raw = RawData(x_train, y_train, x_test, y_test, list(names), str(path),
                          value_range=(0.0, 255.0), image_shape=_image_shape(x_train))
        return raw

    path = resolved
    if path.is_dir():
        x_train, y_train, x_test, y_test = _load_idx_folder(path)
        n_classes = _num_classes(y_train, y_test, None, path)
        return RawData(x_train, y_train, x_test, y_test, [str(i) for i in range(n_classes)], str(path),
                       value_range=(0.0, 255.0), image_shape=_image_shape(x_train))
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    if suffix == ".csv":
        return _load_csv(path)
    raise BadInput(f"data.dataset = {os.fspath(name)!r}: unknown file type {suffix or '(none)'!r}; "
                   f"expected a .npz file, a .csv file or a folder of IDX files")


# ---------------------------------------------------------------- checking

def _where(name, raw: RawData) -> str:
    builtin = isinstance(name, str) and name in DATASETS
    return f"dataset {name}" if builtin else f"data file {raw.source}"


def _list(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_raw(raw: RawData, name: str) -> list[str]:
    """Raise BadInput if the data cannot be used; return warnings about what looks odd."""
    where = _where(name, raw)
    names = list(raw.class_names)
    n_classes = len(names)
    for split in ("train", "test"):
        _check_rows(where, split, getattr(raw, f"x_{split}"), getattr(raw, f"y_{split}"))
    if n_classes < 2:
        raise BadInput(f"{where}: labels of {n_classes} class{'' if n_classes == 1 else 'es'} "
                       f"({_list(names) or 'none'}); a classifier needs labels of at least 2 classes")
    for split in ("train", "test"):
        _check_split_labels(where, split, getattr(raw, f"y_{split}"), names)
    if raw.x_train.shape[1:] != raw.x_test.shape[1:]:
        raise BadInput(f"{where}: x_train rows have shape {raw.x_train.shape[1:]} but x_test rows "
                       f"{raw.x_test.shape[1:]}; they must match")
    n_features = math.prod(raw.x_train.shape[1:])
    if raw.image_shape is not None and math.prod(raw.image_shape) != n_features:
        raise BadInput(f"{where}: image shape {raw.image_shape} does not fit rows of {n_features} values")

    warnings = []
    train_counts = np.bincount(raw.y_train.astype(np.int64), minlength=n_classes)
    empty = [names[i] for i in np.flatnonzero(train_counts == 0)]
    if empty:
        seen = np.unique(raw.y_train.astype(np.int64))
        raise BadInput(f"{where}: class {_list(empty)} has no training rows (labels present: "
                       f"{seen.min()}..{seen.max()}); labels must be 0..{n_classes - 1}, every class in the training set")
    test_counts = np.bincount(raw.y_test.astype(np.int64), minlength=n_classes)
    absent = [names[i] for i in np.flatnonzero(test_counts == 0)]
    if absent:
        warnings.append(f"test set has no rows of class {_list(absent)}: its accuracy says nothing about them")
    if raw.value_range is not None:
        lo, hi = raw.value_range
        x_min, x_max = float(raw.x_train.min()), float(raw.x_train.max())
        if x_min < lo or x_max > hi:
            warnings.append(f"training inputs span [{x_min:g}, {x_max:g}], outside the nominal range "
                            f"[{lo:g}, {hi:g}]: scaled values will leave [0, 1]")
    return warnings


def _check_rows(where: str, split: str, x, y) -> None:
    """Arrays of numbers, one label per row, at least one row, no NaN/inf inputs."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise BadInput(f"{where}: x_{split} and y_{split} must be numpy arrays")
    if x.dtype.kind not in "biuf":
        raise BadInput(f"{where}: x_{split} holds {_kind(x)}, expected numbers")
    if x.ndim < 2:
        raise BadInput(f"{where}: x_{split} has shape {x.shape}, expected (rows, features) or (rows, height, width)")
    if y.ndim != 1:
        raise BadInput(f"{where}: y_{split} has shape {y.shape}, expected one class index per row")
    if len(x) != len(y):
        raise BadInput(f"{where}: x_{split} has {len(x)} rows but y_{split} has {len(y)} labels; they must match")
    if len(x) == 0:
        raise BadInput(f"{where}: the {split} set has no rows")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            row = int(np.argmax(bad.reshape(len(x), -1).any(axis=1)))
            raise BadInput(f"{where}: x_{split} holds {int(bad.sum())} NaN/inf value(s) (first in row {row}); "
                           f"remove or fill them")


def _check_split_labels(where: str, split: str, y: np.ndarray, names: list[str]) -> None:
    """Whole numbers 0..C-1."""
    n_classes = len(names)
    if y.dtype.kind not in "biuf":
        raise BadInput(f"{where}: y_{split} holds {_kind(y)}; {LABEL_RULE} (here 0..{n_classes - 1})")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise BadInput(f"{where}: y_{split} holds label {_show(y[bad][0])} ({int(bad.sum())} row(s)); "
                           f"expected integer class indices 0..{n_classes - 1}")
    out = (y < 0) | (y >= n_classes)
    if out.any():
        value = y[out][0]
        value = int(value) if y.dtype.kind != "b" else value
        raise BadInput(f"{where}: y_{split} holds label {value} ({int(out.sum())} row(s)); "
                       f"expected 0..{n_classes - 1} for the {n_classes} classes {_list(names)}")


def _kind(a: np.ndarray) -> str:
    """What an array of something other than numbers holds, in words, with an example."""
    words = {"U": "text", "S": "text", "O": "Python objects", "M": "dates", "m": "time spans",
             "c": "complex numbers"}.get(a.dtype.kind, "values that are not numbers")
    return f"{words} (e.g. {_show(a.flat[0])})" if a.size and a.dtype.kind in "USMm" else words


# ---------------------------------------------------------------- preprocessing

def _mean_std(x: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std in float64, in row chunks (no full-size float64 copy)."""
    total = np.zeros(x.shape[1:], np.float64)
    for i in range(0, len(x), chunk):
        total += x[i:i + chunk].sum(axis=0, dtype=np.float64)
    mean = total / len(x)
    squares = np.zeros_like(mean)
    for i in range(0, len(x), chunk):
        squares += ((x[i:i + chunk] - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(squares / len(x))


def prepare(raw: RawData, name: str, *, scale: str = "unit", validation_split: float = 0.1,
            flatten: bool = True) -> Dataset:
    """Check, scale, shape and split raw data into model-ready arrays.

    scale: "unit" maps the nominal value range (or the training min/max when
    there is none) to [0, 1]; "symmetric" to [-1, 1]; "standard" gives each
    feature zero mean and unit std; "none" leaves values as they are.
    Statistics (min/max, mean/std) come from the training rows only, after
    the validation rows are split off.

    validation_split: the LAST `int(n_train * validation_split)` training rows
    become the validation set, as Keras' `fit(validation_split=...)` takes them.

    flatten: True gives rows of features (N, F); False keeps images as
    (N, H, W, 1) for convolutional models.
    """
    if scale not in SCALES:
        raise BadInput(f"data.scale = {json.dumps(scale, default=str)}: expected one of {', '.join(SCALES)}")
    if (not isinstance(validation_split, (int, float, np.number)) or isinstance(validation_split, bool)
            or not (0 <= validation_split < 1)):
        raise BadInput(f"data.validation_split = {_show(validation_split)}: expected a number in [0, 1), e.g. 0.1")
    if not isinstance(flatten, (bool, np.bool_)):
        raise BadInput(f"data.flatten = {_show(flatten)}: expected true or false")
    if not flatten and raw.image_shape is None:
        raise BadInput(f"data.flatten = false: dataset {name} has no image shape "
                       f"(its rows are {math.prod(np.shape(raw.x_train)[1:])} features); use flatten = true")
    warnings = check_raw(raw, name)

    n_all = len(raw.x_train)
    n_val = int(n_all * validation_split)
    n_fit = n_all - n_val
    _check_split(raw, float(validation_split), n_fit, n_val)
    row_shape = (math.prod(raw.x_train.shape[1:]),) if flatten else (*raw.image_shape, 1)

    def as_float(x: np.ndarray) -> np.ndarray:  # always a fresh float32 copy: scaled in place below
        return np.array(x.reshape((len(x), *row_shape)), dtype=np.float32, order="C", copy=True)

    x_all, x_test = as_float(raw.x_train), as_float(raw.x_test)
    x_fit = x_all[:n_fit]
    if scale in ("unit", "symmetric"):
        lo, hi = raw.value_range if raw.value_range is not None else (float(x_fit.min()), float(x_fit.max()))
        span = np.float32((hi - lo) or 1.0)
        for x in (x_all, x_test):
            x -= np.float32(lo)
            x /= span
            if scale == "symmetric":
                x *= 2
                x -= 1
    elif scale == "standard":
        mean, std = _mean_std(x_fit)
        std[std == 0] = 1.0
        for x in (x_all, x_test):
            x -= mean.astype(np.float32)
            x /= std.astype(np.float32)

    y_all = np.ascontiguousarray(raw.y_train, dtype=np.int32)
    y_test = np.ascontiguousarray(raw.y_test, dtype=np.int32)
    names = list(raw.class_names)
    n_classes = len(names)
    counts = {"train": np.bincount(y_all[:n_fit], minlength=n_classes).tolist(),
              "val": np.bincount(y_all[n_fit:], minlength=n_classes).tolist(),
              "test": np.bincount(y_test, minlength=n_classes).tolist()}
    value_min, value_max = float(x_fit.min()), float(x_fit.max())
    warnings += _scaling_warnings(raw, scale, max(abs(value_min), abs(value_max)))
    warnings += _balance_warnings(names, counts, n_val)

    info = DatasetInfo(
        name=os.fspath(name), source=raw.source, class_names=names, num_classes=n_classes,
        input_shape=tuple(int(d) for d in row_shape), image_shape=raw.image_shape, scale=scale,
        n_train=n_fit, n_val=n_val, n_test=len(x_test), class_counts=counts,
        value_min=value_min, value_max=value_max, warnings=warnings)
    return Dataset(x_all[:n_fit], y_all[:n_fit], x_all[n_fit:], y_all[n_fit:], x_test, y_test, info)


def _check_split(raw: RawData, split: float, n_fit: int, n_val: int) -> None:
    """BadInput when validation_split leaves no validation rows, or too few training rows to hold every class."""
    field, rows = f"data.validation_split = {split:g}", f"{n_fit} training and {n_val} validation rows"
    n_classes = len(raw.class_names)
    if split > 0 and n_val == 0:
        least = math.ceil(1000 / n_fit) / 1000  # int(n_fit * least) >= 1
        raise BadInput(f"{field}: leaves 0 of the {n_fit} training rows for validation; use 0 (no validation) "
                       f"or a split of at least {least:g}")
    if n_fit < n_classes:
        raise BadInput(f"{field}: leaves {rows}, fewer training rows than the {n_classes} classes; "
                       f"use a smaller split")
    missing = np.flatnonzero(np.bincount(raw.y_train[:n_fit].astype(np.int64), minlength=n_classes) == 0)
    if len(missing):
        raise BadInput(f"{field}: leaves {rows}, and no training row of class "
                       f"{_list([raw.class_names[i] for i in missing])} (the split takes the LAST rows); "
                       f"use a smaller split, or shuffle the rows first")


def _scaling_warnings(raw: RawData, scale: str, biggest: float) -> list[str]:
    if biggest == 0:
        return ["inputs are all zero after scaling: the model cannot learn anything from them"]
    if biggest < 0.01:
        return [f"inputs all below 0.01 after scaling (largest |x| = {biggest:.3g}): probably scaled twice"]
    if scale == "none":
        pixels = raw.value_range is not None or raw.image_shape is not None
        if pixels and biggest > 1.5:
            return [f"inputs reach {biggest:g} with scale = 'none': unscaled pixels make training "
                    f"slow or unstable; use scale = 'unit'"]
        if not pixels and biggest > 10:  # features like cosine2d's x1 in [-pi, pi] are fine as they are
            return [f"inputs reach {biggest:g} with scale = 'none': large unscaled features make training "
                    f"slow or unstable; use scale = 'standard' or 'unit'"]
    return []


def _balance_warnings(names: list[str], counts: dict[str, list[int]], n_val: int) -> list[str]:
    warnings = []
    train = np.array(counts["train"])
    if train.min() * 3 < train.max():
        big, small = int(train.argmax()), int(train.argmin())
        warnings.append(f"class imbalance: class {names[big]!r} has {train.max()} training rows, "
                        f"class {names[small]!r} only {train.min()} (over 3x); look at per-class accuracy, "
                        f"not only overall accuracy")
    val = np.array(counts["val"])
    if n_val >= 5 * len(names) and (val == 0).any():
        absent = [names[i] for i in np.flatnonzero(val == 0)]
        warnings.append(f"validation rows (the last {n_val} training rows) hold no class {_list(absent)}: "
                        f"the training data may be ordered by class; shuffle it first")
    return warnings


def load_dataset(name: str, *, scale: str = "unit", validation_split: float = 0.1, flatten: bool = True,
                 options: dict | None = None) -> Dataset:
    """Load, check and prepare a data set: `load_raw` + `check_raw` + `prepare`.

    >>> ds = load_dataset("digits")
    >>> ds.x_train.shape, ds.info.class_names[:3]
    ((1294, 64), ['0', '1', '2'])
    """
    raw = load_raw(name, options)
    return prepare(raw, name, scale=scale, validation_split=validation_split, flatten=flatten)
