"""Where a data set comes from: a built-in name or the user's path -> RawData, as stored.

    raw = load_raw("mnist")                          # uint8 pixels, int labels
    raw = load_raw("cosine2d", {"n": 500, "a": 0.5})  # generated from its options
    raw = load_raw("~/mine.npz")                     # a path: .npz, .csv or a folder of IDX files

The built-in sets (see `DATASETS`): scikit-learn's 8x8 digits, MNIST and
Fashion-MNIST, and the generated cosine2d. MNIST and Fashion-MNIST are
searched in `$MLPLAB_DATA/<name>/`, `~/.keras/datasets/` and
`/usr/share/datasets/<name>/`, then downloaded with pinned checksums unless
`MLPLAB_OFFLINE=1`. Files are read by `data.files`.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from ..catalog import DATASET_OPTIONS
from ..errors import BadInput
from ..spec.messages import did_you_mean
from .files import IDX_FILES, RawData, idx_paths, load_csv, load_idx_folder, load_npz, show_value

DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 8x8 handwritten digits: 1797 images, values 0..16, 10 classes",
    "mnist": "MNIST handwritten digits: 60000 + 10000 images of 28x28, values 0..255, 10 classes",
    "fashion-mnist": "Zalando's Fashion-MNIST: 60000 + 10000 images of 28x28 clothing, 10 classes",
    "cosine2d": "2-D toy problem: points on y = cos(x) (class 0) and y = a + cos(x) (class 1)",
}

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


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


def load_raw(name: str, options: dict | None = None) -> RawData:
    """Load a data set as stored: a built-in name or a path (.npz, .csv, IDX folder).

    `options` are the generator's parameters for cosine2d (n, a, noise, seed);
    the other data sets take none.
    """
    options = {k: v for k, v in (options or {}).items() if v is not None}
    resolved = _resolve_name(name)
    _check_options(options, name, resolved)
    if resolved == "digits":
        return _digits(_option(options, "split_seed", 0, "int") if "split_seed" in options else None)
    if resolved == "cosine2d":
        return cosine2d(n=_option(options, "n", 1000, "int"), a=_option(options, "a", 1.0, "float"),
                        noise=_option(options, "noise", 0.0, "float"), seed=_option(options, "seed", 0, "int"))
    if resolved in ("mnist", "fashion-mnist"):
        names = FASHION_CLASSES if resolved == "fashion-mnist" else [str(i) for i in range(10)]
        path = find_files(resolved)
        if path.suffix == ".npz":
            return load_npz(path, class_names=list(names))
        return load_idx_folder(path, class_names=names)

    path = resolved  # the user's own file or folder
    if path.is_dir():
        return load_idx_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path)
    if suffix == ".csv":
        return load_csv(path)
    raise BadInput(f"data.dataset = {os.fspath(name)!r}: unknown file type {suffix or '(none)'!r}; "
                   f"expected a .npz file, a .csv file or a folder of IDX files")


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


def _check_options(options: dict, name, resolved: str | Path) -> None:
    """BadInput for an option the data set does not take (see catalog.DATASET_OPTIONS)."""
    takes = DATASET_OPTIONS.get(resolved, ()) if isinstance(resolved, str) else ()
    for key in options:
        owner = next((ds for ds, keys in DATASET_OPTIONS.items() if key in keys), None)
        if owner and key not in takes:
            raise BadInput(f"data.{key}: only for {owner} (options {', '.join(DATASET_OPTIONS[owner])}); "
                           f"dataset {show_value(os.fspath(name))} does not take it")
        if owner is None:
            raise BadInput(f"data.{key}: unknown option; {did_you_mean(key, takes)}"
                           + (f"{resolved}'s options are {', '.join(takes)}" if takes
                              else f"dataset {show_value(os.fspath(name))} takes none"))


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


# ---------------------------------------------------------------- generated and bundled sets

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


def _digits(split_seed: int | None = None) -> RawData:
    """scikit-learn's 8x8 digits, 80/20 as its train_test_split splits them: stratified with seed 0, or as
    the course splits them (train_test_split(test_size=0.2, random_state=split_seed), not stratified).
    Read from scikit-learn's own file without importing scikit-learn (about 2 s of imports a report or
    `data show` would wait for); tests check arrays and split against scikit-learn's."""
    import importlib.util
    folder = Path(importlib.util.find_spec("sklearn").submodule_search_locations[0])
    data = np.loadtxt(folder / "datasets" / "data" / "digits.csv.gz", delimiter=",")
    images, target = data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    train, test = split_like_sklearn(target, 0.2, split_seed)
    return RawData(images[train], target[train], images[test], target[test], [str(i) for i in range(10)],
                   "scikit-learn", value_range=(0.0, 16.0), image_shape=(8, 8))


def split_like_sklearn(y: np.ndarray, test_size: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices as scikit-learn's train_test_split(test_size=..) draws them: stratified
    by `y` with random_state 0 when `seed` is None (StratifiedShuffleSplit), else a plain shuffle with
    random_state `seed` (ShuffleSplit). The same NumPy random stream, step by step."""
    n = len(y)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if seed is not None:
        order = np.random.RandomState(seed).permutation(n)
        return order[n_test:n_test + n_train], order[:n_test]
    rng = np.random.RandomState(0)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train, test = [], []
    for rows, a, b in zip(by_class, n_i, t_i):
        rows = rows.take(rng.permutation(len(rows)), mode="clip")
        train.extend(rows[:a])
        test.extend(rows[a:a + b])
    return rng.permutation(train), rng.permutation(test)


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's per-class share of `draws` rows: floor of the proportional share, the rest given by
    largest remainder, ties broken at random (sklearn.utils.extmath._approximate_mode)."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1] if need > 0 else ():
        (inds,) = np.where(remainder == value)
        add = min(len(inds), need)
        floored[rng.choice(inds, size=add, replace=False)] += 1
        need -= add
        if need == 0:
            break
    return floored.astype(int)


# ---------------------------------------------------------------- MNIST-family files: found or downloaded

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
        elif c.is_dir() and not idx_paths(c)[1]:
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


def _keras_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"


def _offline() -> bool:
    return os.environ.get("MLPLAB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


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
