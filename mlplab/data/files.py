"""Data files on disk -> RawData: IDX folders, .npz archives and .csv tables.

    raw = load_idx_folder(Path("mnist"))   # the four standard IDX files, each raw or .gz
    raw = load_npz(Path("mine.npz"))        # x_train, y_train, x_test, y_test (+ class_names)
    raw = load_csv(Path("mine.csv"))        # a label column and feature columns; the last 20 % are the test set

The readers serve the user's own files and the MNIST-family files that
`data.sources` finds or downloads alike. Anything wrong with a file raises
`BadInput` with one line naming the file, what it holds and what is allowed.
"""
from __future__ import annotations

import csv
import gzip
import json
import math
import os
import struct
import zipfile
import zlib
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import BadInput

# The four IDX files, in the order train images, train labels, test images, test labels.
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
CSV_TEST_FRACTION = 0.2
LABEL_RULE = "labels must be integer class indices 0..C-1 for C classes"


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


# ---------------------------------------------------------------- IDX files

def load_idx_folder(folder: Path, class_names: list[str] | None = None) -> RawData:
    """The four IDX files in `folder` as pixels 0..255; classes named 0..C-1 unless `class_names` are given."""
    paths, missing = idx_paths(folder)
    if missing:
        raise BadInput(f"data folder {folder}: missing {', '.join(m + '[.gz]' for m in missing)}; "
                       f"an IDX folder holds {', '.join(IDX_FILES)} (each raw or .gz)")
    arrays = [read_idx(p, "images" if "images" in p.name else "labels") for p in paths]
    for (xi, yi) in ((0, 1), (2, 3)):
        if len(arrays[xi]) != len(arrays[yi]):
            raise BadInput(f"data files {paths[xi]} ({len(arrays[xi])} images) and {paths[yi]} "
                           f"({len(arrays[yi])} labels) disagree: each image needs one label")
    x_train, y_train, x_test, y_test = arrays
    if class_names is None:
        class_names = [str(i) for i in range(_num_classes(y_train, y_test, None, folder))]
    return RawData(x_train, y_train, x_test, y_test, list(class_names), str(folder),
                   value_range=(0.0, 255.0), image_shape=_image_shape(x_train))


def idx_paths(folder: Path) -> tuple[list[Path], list[str]]:
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


# ---------------------------------------------------------------- .npz archives

def load_npz(path: Path, class_names: list[str] | None = None) -> RawData:
    """A numpy.savez archive of x_train, y_train, x_test, y_test (and class_names, unless given).

    Images (N, H, W, 1) lose their channel axis; one-hot labels become class indices;
    uint8 inputs get the nominal range 0..255.
    """
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


# ---------------------------------------------------------------- .csv tables

def load_csv(path: Path) -> RawData:
    """A CSV of one row per sample: the label column plus feature columns.

    With a header row the label column is the one named `label`; without one
    it is the first column. A CSV has no separate test set: the LAST 20% of
    the rows (at least one) become the test set, so shuffle the file first
    if it is ordered by class. Features are read as float32 and scaled from
    the training min/max (value_range None).
    """
    delimiter, header, label_col = _csv_header(path)
    try:
        table = np.loadtxt(path, delimiter=delimiter, skiprows=int(header is not None), dtype=np.float32,
                           ndmin=2, encoding="utf-8-sig", quotechar='"')
    except ValueError:
        raise BadInput(_csv_problem(path, delimiter, header, label_col)) from None
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


def _csv_header(path: Path) -> tuple[str | None, list[str] | None, int]:
    """The delimiter, the header's column names (None when the first row is data) and the label column."""
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
    if all(_is_number(c) for c in fields):
        return delimiter, None, 0
    lowered = [c.lower() for c in fields]
    if "label" not in lowered:
        if len(fields) > 1 and all(_is_number(c) for c in fields[1:]):  # a data row whose label is text
            raise BadInput(_text_label(path, "the first column (the label)", fields[0], 1))
        raise BadInput(f"data file {path}: header has no column named 'label' "
                       f"(columns: {', '.join(fields[:6])}{', ...' if len(fields) > 6 else ''}); "
                       f"name the label column 'label', or drop the header to use the first column")
    with closing(_csv_rows(path, delimiter, 1)) as rows:
        empty = next(rows, None) is None
    if empty:
        raise BadInput(f"data file {path}: no rows after the header ({', '.join(fields[:6])}"
                       f"{', ...' if len(fields) > 6 else ''}); expected one row per sample")
    return delimiter, fields, lowered.index("label")


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
    return f"data file {path}: not a numeric CSV; expected numbers separated by {show_value(delimiter or ' ')}"


def _text_label(path: Path, column: str, value: str, row: int) -> str:
    return (f"data file {path}: {column} holds {json.dumps(value)} in data row {row}; {LABEL_RULE} "
            f"(map each class to a number: 0, 1, 2, ...)")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- labels and shapes

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
        raise BadInput(f"data file {path}: {key} holds the label {show_value(y[row])} (row {row}); {LABEL_RULE}{hint}")


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


# ---------------------------------------------------------------- values and shapes in messages

def show_value(value) -> str:
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
