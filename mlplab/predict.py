"""A drawn or photographed digit -> what a stored run's model thinks it is.

    result = predict_image(store, "last", Path("seven.png").read_bytes())
    result.predicted, result.probabilities, result.input   # input: what the model saw

The image is prepared the way MNIST was (LeCun et al.): grayscale, white digit on
black, cropped to its bounding box, the longer side scaled to 20 px, and placed in a
28x28 frame so its centre of mass sits at the centre. For a model trained on the
8x8 scikit-learn digits it is prepared the way those were (see digits_8x8): cropped,
scaled to the full height of a 32x32 frame keeping its aspect ratio, centred, its
strokes as thick as theirs, and each 4x4 block counted to a whole number 0..16. Then
the run's own `data.scale` is applied with the statistics the run was trained with (stored with it).

Images come from users: size and pixel count are limited, only common raster
formats are decoded, and a broken file is a `BadInput` with one line.
"""
from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadInput
from .stored import load_model, run_folder
from .stored.artifacts import load_scaling

MAX_BYTES = 8 * 2**20          # upload size limit
MAX_PIXELS = 16_000_000        # decoded size limit (decompression bombs)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
IMAGE_SIDES = (28, 8)          # the input sizes this module can prepare for
DIGITS_WIDTH = 28              # the widest an 8x8 digit is drawn in its 32x32 bitmap (a margin of 2 px each side)
DIGITS_INK = 260               # the fewest on pixels of a usual 32x32 digits bitmap (the sum of its 8x8 counts):
                               # 5th percentile; mean 313 +- 34, and 303..330 for every class


# ---------------------------------------------------------------- decoding

def load_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode bytes into a float grayscale array in [0, 1] (alpha composited over white)."""
    from PIL import Image, UnidentifiedImageError
    if not data:
        raise BadInput(f"{name}: empty file; expected a PNG or JPEG image")
    if len(data) > MAX_BYTES:
        raise BadInput(f"{name}: {len(data)} bytes is too large; images up to {MAX_BYTES // 2**20} MB are accepted")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise BadInput(f"{name}: {w}x{h} pixels is too large; up to {MAX_PIXELS:,} pixels are accepted")
            if w < 1 or h < 1:
                raise BadInput(f"{name}: image has no pixels")
            img.seek(0)
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(white, rgba)
            gray = img.convert("L")
    except BadInput:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        reason = "not a PNG, JPEG, GIF, BMP or WEBP image" if isinstance(e, UnidentifiedImageError) else str(e)
        raise BadInput(f"{name}: cannot read the image ({reason})") from None
    return np.asarray(gray, dtype=np.float32) / 255.0


# ---------------------------------------------------------------- MNIST-style preparation

def _foreground(gray: np.ndarray) -> np.ndarray:
    """Digit bright on dark: invert when the border (the background) is light."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    img = 1.0 - gray if float(np.median(border)) > 0.5 else gray.copy()
    img -= float(np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])))  # flatten the background
    return np.clip(img, 0.0, None)


def _crop(img: np.ndarray, name: str) -> np.ndarray:
    peak = float(img.max())
    if peak < 0.05:
        raise BadInput(f"{name}: the image is blank (no digit found); draw or upload a digit")
    mask = img > 0.2 * peak
    rows, cols = np.where(mask.any(axis=1))[0], np.where(mask.any(axis=0))[0]
    img = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return img / float(img.max())


def _resize(img: np.ndarray, longer: int) -> np.ndarray:
    h, w = img.shape
    s = longer / max(h, w)
    return _resize_to(img, max(1, round(w * s)), max(1, round(h * s)))


def _resize_to(img: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image
    pil = Image.fromarray((img * 255).astype(np.uint8), mode="L")
    return np.asarray(pil.resize((width, height), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0


def _shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = img[ys, xs]
    return out


def _place(img: np.ndarray, side: int, by_mass: bool) -> np.ndarray:
    """Put `img` in a side x side frame: centred by bounding box, then by centre of mass."""
    frame = np.zeros((side, side), np.float32)
    h, w = img.shape
    y0, x0 = (side - h) // 2, (side - w) // 2
    frame[y0:y0 + h, x0:x0 + w] = img
    if by_mass and frame.sum() > 0:
        yy, xx = np.mgrid[0:side, 0:side]
        cy, cx = (frame * yy).sum() / frame.sum(), (frame * xx).sum() / frame.sum()
        frame = _shift(frame, int(round((side - 1) / 2 - cy)), int(round((side - 1) / 2 - cx)))
    return frame


def prepare_image(gray: np.ndarray, side: int = 28, name: str = "image") -> np.ndarray:
    """Grayscale [0, 1] array -> side x side digit in the raw range of its data set:
    0..255 for 28x28 (MNIST), 0..16 for 8x8 (scikit-learn digits)."""
    if side not in IMAGE_SIDES:
        raise BadInput(f"{name}: models with {side}x{side} inputs are not supported; expected 28x28 or 8x8")
    digit = _crop(_foreground(np.asarray(gray, np.float32)), name)
    if side == 28:
        return np.clip(_place(_resize(digit, 20), 28, by_mass=True), 0, 1) * 255.0
    return digits_8x8(digit)


def digits_8x8(digit: np.ndarray) -> np.ndarray:
    """A cropped digit ([0, 1], bright on dark) the way scikit-learn's digits were made (UCI optdigits):
    a 32x32 bitmap, each non-overlapping 4x4 block counted, so whole numbers 0..16.

    In those bitmaps every digit fills the height (all 8 rows are used), is centred across with a
    margin (columns 0 and 7 are nearly always empty), and its strokes are thick: every class has
    about 313 on pixels of the 1024. So the digit is scaled keeping its aspect ratio to 32 px tall and
    at most DIGITS_WIDTH wide, centred by its bounding box and averaged in 4x4 blocks; a thinner
    stroke is first thickened (a maximum filter at twice that size) until its ink comes nearest
    DIGITS_INK, the usual least."""
    from PIL import Image, ImageFilter
    work = Image.fromarray((_fit(digit, 64, 2 * DIGITS_WIDTH) * 255).astype(np.uint8), mode="L")
    best = None
    for radius in range(0, 16):
        grown = work.filter(ImageFilter.MaxFilter(2 * radius + 1)) if radius else work
        x = _blocks(_crop(np.asarray(grown, np.float32) / 255, "image"))
        if best is None or abs(x.sum() - DIGITS_INK) < abs(best.sum() - DIGITS_INK):
            best = x
        if x.sum() >= DIGITS_INK:
            break
    return best


def _fit(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """`img` scaled keeping its aspect ratio to `height` tall, or narrower to fit `width`."""
    h, w = img.shape
    s = min(height / h, width / w)
    return np.clip(_resize_to(img, max(1, round(w * s)), max(1, round(h * s))), 0, 1)


def _blocks(digit: np.ndarray) -> np.ndarray:
    """A cropped digit in its 32x32 bitmap, counted in 4x4 blocks: 8x8 whole numbers 0..16."""
    big = _place(_fit(digit, 32, DIGITS_WIDTH), 32, by_mass=False)
    return np.round(big.reshape(8, 4, 8, 4).mean(axis=(1, 3)) * 16).astype(np.float32)


# ---------------------------------------------------------------- a run's model

@dataclass
class Prediction:
    run_id: str
    class_names: list[str]
    probabilities: list[float]
    predicted: int
    input: np.ndarray          # side x side, in the raw range (what the model saw, before scaling)
    side: int

    @property
    def label(self) -> str:
        return self.class_names[self.predicted]

    def to_dict(self) -> dict:
        top = self.input.max() or 1.0
        return {"run_id": self.run_id, "predicted": self.predicted, "label": self.label,
                "class_names": self.class_names, "probabilities": [round(float(p), 6) for p in self.probabilities],
                "side": self.side, "input": np.round(self.input / top, 4).tolist()}


class RunStatusWarning(UserWarning):
    """Predictions from a run that did not end well (diverged, interrupted, lost)."""


GOOD_STATUSES = ("ok", "stopped")


def status_warning(run: dict) -> str | None:
    """One line for a run whose status is not ok/stopped: its predictions may mean little."""
    status = run.get("status")
    if status in GOOD_STATUSES:
        return None
    acc = run.get("test_accuracy")
    acc_text = f"{acc:.4f}" if isinstance(acc, (int, float)) and math.isfinite(acc) else "unknown"
    return (f"run {run['id']} has status {status} (test accuracy {acc_text}): "
            "its model did not finish training well, so these predictions may mean little")


class RunModel:
    """A stored run's model plus what preparing its inputs needs.

    `warning` is `status_warning(run)`, also issued as a `RunStatusWarning` when loading."""

    def __init__(self, store, ref: str):
        run = store.get_run(ref)
        self.run_id = run["id"]
        run_folder(store, self.run_id)   # BadInput when it is gone: said before anything else about its model
        data = (run.get("summary") or {}).get("data") or {}
        self.spec = run.get("spec") or {}
        self.input_shape = [int(d) for d in data.get("input_shape") or []]
        self.class_names = list(data.get("class_names") or [])
        n = int(np.prod(self.input_shape)) if self.input_shape else 0
        side = int(round(n ** 0.5)) if n else 0
        if run["status"] in ("running", "failed") or not self.input_shape:
            raise BadInput(f"run {self.run_id}: has no trained model (status {run['status']})")
        if side * side != n or side not in IMAGE_SIDES:
            raise BadInput(f"run {self.run_id}: its inputs are {self.input_shape}, not 28x28 or 8x8 images; "
                           "pick a run trained on mnist, fashion-mnist or digits")
        self.side = side
        self.warning = status_warning(run)
        if self.warning:
            warnings.warn(self.warning, RunStatusWarning, stacklevel=2)
        self.model = load_model(store, run)
        self.scaling = scaling_of(store, run)
        self._lock = threading.Lock()

    def predict(self, raw: np.ndarray) -> np.ndarray:
        x = self.scaling.apply(raw.astype(np.float32).reshape((1, *self.input_shape)))
        with self._lock:
            p = np.asarray(self.model(x, training=False), dtype=np.float64)[0]
        if p.shape == (1,):  # one sigmoid unit
            p = np.array([1 - p[0], p[0]])
        return p

    def predict_image(self, data: bytes, name: str = "image") -> Prediction:
        raw = prepare_image(load_image(data, name), self.side, name)
        p = self.predict(raw)
        names = self.class_names or [str(i) for i in range(len(p))]
        return Prediction(self.run_id, names, p.tolist(), int(np.argmax(p)), raw, self.side)


def scaling_of(store, run: dict):
    """The data.Scaling the run's inputs were scaled with: as stored with the run, else (a run stored before
    runs kept it) computed again from its data as the run's training computed it."""
    stored = load_scaling(store, run["id"])
    if stored is not None:
        return stored
    from .data import load_data
    from .spec import stored_experiment
    return load_data(stored_experiment(run["spec"])).scaling


_cache: dict[tuple[str, str], RunModel] = {}
_cache_lock = threading.Lock()


def run_model(store, ref: str) -> RunModel:
    """A cached `RunModel` (models of finished runs never change)."""
    run_id = store.resolve(ref)
    key = (str(store.home), run_id)
    with _cache_lock:
        if key not in _cache:
            if len(_cache) >= 8:
                _cache.pop(next(iter(_cache)))
            _cache[key] = RunModel(store, run_id)
        return _cache[key]


def predict_image(store, ref: str, data: bytes, name: str = "image") -> Prediction:
    return run_model(store, ref).predict_image(data, name)


def predict_file(store, ref: str, path: str | Path) -> Prediction:
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: {'is a folder, not' if p.is_dir() else 'no such'} image file; expected a PNG or JPEG file")
    if p.stat().st_size > MAX_BYTES:
        raise BadInput(f"{p}: {p.stat().st_size} bytes is too large; images up to {MAX_BYTES // 2**20} MB are accepted")
    return predict_image(store, ref, p.read_bytes(), str(p))
