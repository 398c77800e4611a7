"""mlplab.data: built-in sets and where they are found (data.sources), checks and preprocessing (data.prepare); user
files are in test_data_files."""
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from mlplab.data import sources
from mlplab.data.files import RawData
from mlplab.data.prepare import check_raw, load_dataset, prepare
from mlplab.data.sources import DATASETS, find_files, load_raw
from mlplab.errors import BadInput

SHARED = os.environ.get("MLPLAB_DATA", "/work/shared/datasets")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No test downloads or reads a real ~/.keras or /usr/share/datasets."""
    monkeypatch.setenv("MLPLAB_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setattr(sources, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setenv("MLPLAB_DATA", SHARED)


def shared_raw(name: str):
    """A data set's raw arrays from the shared folder, offline (loaded once per module by the fixtures below)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLPLAB_DATA", SHARED)
        mp.setenv("MLPLAB_OFFLINE", "1")
        return load_raw(name)


@pytest.fixture(scope="module")
def mnist_raw():
    return shared_raw("mnist")


@pytest.fixture(scope="module")
def fashion_raw():
    return shared_raw("fashion-mnist")


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write `array` (uint8, (N,) or (N, H, W)) as an IDX file, gzipped if the name ends in .gz."""
    magic = 0x0801 if array.ndim == 1 else 0x0803
    payload = struct.pack(">I" + "I" * array.ndim, magic, *array.shape) + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def small_idx_folder(folder: Path, gz: bool, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 5, 4), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 3,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 5, 4), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 3,
    }
    for base, a in arrays.items():
        write_idx(folder / (base + (".gz" if gz else "")), a)
    return arrays


def raw_from(x_train, y_train, x_test=None, y_test=None, value_range=None, image_shape=None, n_classes=None):
    x_test = x_train[:4] if x_test is None else x_test
    y_test = y_train[:4] if y_test is None else y_test
    n_classes = n_classes or int(max(y_train.max(), y_test.max())) + 1
    return RawData(x_train, y_train, x_test, y_test, [str(i) for i in range(n_classes)], "test-made",
                   value_range=value_range, image_shape=image_shape)


# ---------------------------------------------------------------- built-in sets

def test_the_four_builtin_names_are_described():
    assert set(DATASETS) == {"digits", "mnist", "fashion-mnist", "cosine2d"}
    assert all(isinstance(v, str) and v for v in DATASETS.values())


def test_digits_shapes_ranges_counts_and_stratified_test_split():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1294, 64) and ds.x_val.shape == (143, 64) and ds.x_test.shape == (360, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.x_train.flags.c_contiguous and ds.x_test.flags.c_contiguous
    info = ds.info
    assert info.class_names == [str(i) for i in range(10)] and info.num_classes == 10
    assert info.input_shape == (64,) and info.image_shape == (8, 8) and info.source == "scikit-learn"
    assert (info.n_train, info.n_val, info.n_test) == (1294, 143, 360)
    assert info.value_min == 0.0 and info.value_max == 1.0
    # stratified 20% test split: 35 or 36 of each class out of 1797
    assert sum(info.class_counts["test"]) == 360 and all(34 <= c <= 37 for c in info.class_counts["test"])
    assert sum(info.class_counts["train"]) + sum(info.class_counts["val"]) == 1437
    assert info.warnings == []
    raw = load_raw("digits")
    assert raw.value_range == (0.0, 16.0) and raw.x_train.max() == 16
    # unit scaling divides by the nominal 16
    np.testing.assert_allclose(ds.x_test, raw.x_test.reshape(360, 64) / 16, atol=1e-7)


def test_digits_as_images():
    ds = load_dataset("digits", flatten=False, validation_split=0)
    assert ds.x_train.shape == (1437, 8, 8, 1) and ds.info.input_shape == (8, 8, 1)
    assert ds.x_val.shape == (0, 8, 8, 1) and ds.y_val.shape == (0,)


def test_mnist_from_mlplab_data(mnist_raw):
    raw = mnist_raw
    assert raw.x_train.shape == (60000, 28, 28) and raw.x_test.shape == (10000, 28, 28)
    assert raw.x_train.dtype == np.uint8 and raw.value_range == (0.0, 255.0) and raw.image_shape == (28, 28)
    assert raw.class_names == [str(i) for i in range(10)]
    assert Path(raw.source) == Path(SHARED) / "mnist"
    assert raw.y_train[:5].tolist() == [5, 0, 4, 1, 9]  # the famous first five
    assert np.bincount(raw.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert find_files("mnist") == Path(SHARED) / "mnist"


@pytest.mark.parametrize("scale, lo, hi", [("unit", 0.0, 1.0), ("symmetric", -1.0, 1.0), ("none", 0.0, 255.0)])
def test_mnist_value_range_after_each_scale(mnist_raw, scale, lo, hi):
    ds = prepare(mnist_raw, "mnist", scale=scale)
    assert (ds.info.n_train, ds.info.n_val, ds.info.n_test) == (54000, 6000, 10000)
    assert ds.x_train.shape == (54000, 784) and ds.x_test.shape == (10000, 784)
    assert (ds.info.value_min, ds.info.value_max) == (lo, hi)
    assert float(ds.x_test.min()) == lo and float(ds.x_test.max()) == hi
    assert mnist_raw.x_train.dtype == np.uint8  # raw data untouched


def test_mnist_standard_scaling_uses_training_rows(mnist_raw):
    ds = prepare(mnist_raw, "mnist", scale="standard", flatten=False)
    assert ds.x_train.shape == (54000, 28, 28, 1)
    mean = ds.x_train.mean(axis=0, dtype=np.float64)
    std = ds.x_train.std(axis=0, dtype=np.float64)
    assert np.abs(mean).max() < 1e-4
    varying = mnist_raw.x_train[:54000].std(axis=0) > 0
    np.testing.assert_allclose(std[varying[..., None]], 1.0, atol=1e-3)
    assert np.all(ds.x_train[:, ~varying] == 0)  # constant border pixels: std 0 -> divided by 1


def test_fashion_mnist_from_mlplab_data(fashion_raw):
    ds = prepare(fashion_raw, "fashion-mnist")
    assert ds.x_train.shape == (54000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.info.class_names[0] == "T-shirt/top" and ds.info.class_names[9] == "Ankle boot"
    assert len(ds.info.class_names) == 10
    assert ds.info.class_counts["test"] == [1000] * 10
    assert (ds.info.value_min, ds.info.value_max) == (0.0, 1.0)
    sym = prepare(fashion_raw, "fashion-mnist", scale="symmetric")
    assert (sym.info.value_min, sym.info.value_max) == (-1.0, 1.0)


def test_cosine2d_points_lie_on_their_curves():
    raw = load_raw("cosine2d", {"n": 400, "a": 1.5, "noise": 0.0, "seed": 3})
    assert raw.x_train.shape == (400, 2) and raw.x_test.shape == (100, 2)
    assert np.bincount(raw.y_train).tolist() == [200, 200]
    assert raw.class_names == ["cos(x1)", "a + cos(x1)"] and raw.value_range is None and raw.image_shape is None
    for x, y in ((raw.x_train, raw.y_train), (raw.x_test, raw.y_test)):
        assert np.all(np.abs(x[:, 0]) <= np.pi)
        np.testing.assert_allclose(x[:, 1], np.cos(x[:, 0]) + 1.5 * y, atol=1e-12)
    ds = load_dataset("cosine2d", scale="none", options={"n": 400, "a": 1.5, "seed": 3})
    np.testing.assert_allclose(ds.x_train[:, 1], np.cos(ds.x_train[:, 0]) + 1.5 * ds.y_train, atol=1e-5)
    assert ds.info.warnings == []  # x1 up to pi is fine unscaled
    noisy = load_raw("cosine2d", {"n": 400, "noise": 0.1})
    residual = noisy.x_train[:, 1] - np.cos(noisy.x_train[:, 0]) - noisy.y_train
    assert 0.07 < residual.std() < 0.13
    again = load_raw("cosine2d", {"n": 400, "noise": 0.1})
    assert np.array_equal(again.x_train, noisy.x_train)


@pytest.mark.parametrize("options, field", [({"n": 2}, "data.n"), ({"noise": -1}, "data.noise"),
                                            ({"a": "big"}, "data.a"), ({"colour": 1}, "data.colour")])
def test_cosine2d_bad_options(options, field):
    with pytest.raises(BadInput, match=field):
        load_raw("cosine2d", options)


@pytest.mark.parametrize("name, options, message", [
    ("cosine2d", {"nosie": 0.1}, "data.nosie: unknown option; did you mean noise? cosine2d's options are n, a, noise, seed"),
    ("digits", {"n": 100}, 'data.n: only for cosine2d (options n, a, noise, seed); dataset "digits" does not take it'),
    ("digits", {"colour": 1}, "data.colour: unknown option; digits's options are split_seed"),
])
def test_options_a_data_set_does_not_take_are_refused(name, options, message):
    with pytest.raises(BadInput) as e:
        load_raw(name, options)
    assert str(e.value) == message


def test_unknown_name_lists_the_choices():
    with pytest.raises(BadInput, match='"mnsit": expected one of digits, mnist, fashion-mnist, cosine2d'):
        load_raw("mnsit")
    with pytest.raises(BadInput, match="no such file"):
        load_raw("/nowhere/x.npz")


# ---------------------------------------------------------------- finding files

def test_offline_without_files_names_the_files_and_folder(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MLPLAB_DATA", str(empty))
    with pytest.raises(BadInput) as e:
        load_raw("mnist")
    msg = str(e.value)
    assert "\n" not in msg
    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert f in msg
    assert str(empty / "mnist") in msg and "MLPLAB_OFFLINE" in msg


def test_keras_cache_is_searched(monkeypatch, tmp_path):
    monkeypatch.delenv("MLPLAB_DATA")
    arrays = small_idx_folder(tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist", gz=True)
    raw = load_raw("fashion-mnist")
    assert raw.class_names[1] == "Trouser" and np.array_equal(raw.x_train, arrays["train-images-idx3-ubyte"])
    npz = tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"
    np.savez(npz, x_train=arrays["train-images-idx3-ubyte"], y_train=arrays["train-labels-idx1-ubyte"],
             x_test=arrays["t10k-images-idx3-ubyte"], y_test=arrays["t10k-labels-idx1-ubyte"])
    assert find_files("mnist") == npz
    assert load_raw("mnist").class_names == [str(i) for i in range(10)]


def test_download_is_atomic_and_checksummed(monkeypatch, tmp_path):
    """The download path, against a local file:// mirror (tests never touch the network)."""
    monkeypatch.delenv("MLPLAB_OFFLINE")
    monkeypatch.delenv("MLPLAB_DATA")
    mirror = tmp_path / "mirror"
    arrays = small_idx_folder(mirror, gz=True)
    sums = {f"mnist/{base}": __import__("hashlib").sha256(gzip.decompress((mirror / f"{base}.gz").read_bytes())).hexdigest()
            for base in arrays}
    monkeypatch.setitem(sources.MIRRORS, "mnist", mirror.as_uri() + "/")
    bad = dict(sums, **{"mnist/t10k-images-idx3-ubyte": "0" * 64})
    monkeypatch.setattr(sources, "SHA256", bad)
    with pytest.raises(BadInput, match="t10k-images-idx3-ubyte.gz: SHA-256 of the content is"):
        load_raw("mnist")
    target = tmp_path / "home" / ".keras" / "datasets" / "mnist"
    assert sorted(p.name for p in target.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    monkeypatch.setattr(sources, "SHA256", sums)
    raw = load_raw("mnist")
    assert raw.source == str(target) and np.array_equal(raw.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert len(list(target.iterdir())) == 4  # no temp files left


def test_download_failure_is_one_clean_line(monkeypatch, tmp_path):
    monkeypatch.delenv("MLPLAB_OFFLINE")
    monkeypatch.delenv("MLPLAB_DATA")
    monkeypatch.setitem(sources.MIRRORS, "mnist", (tmp_path / "no-mirror").as_uri() + "/")
    with pytest.raises(BadInput, match=r"download failed: file://.*train-images-idx3-ubyte.gz"):
        load_raw("mnist")


# ---------------------------------------------------------------- checks

def test_nan_in_inputs_names_split_and_count():
    x = np.ones((20, 3))
    x[7, 1] = np.nan
    x[9, 0] = np.inf
    raw = raw_from(x, np.arange(20) % 2)
    raw.x_test = np.ones((4, 3))
    with pytest.raises(BadInput, match=r"x_train holds 2 NaN/inf value\(s\) \(first in row 7\)"):
        check_raw(raw, "mine.npz")


def test_labels_out_of_range():
    raw = raw_from(np.ones((20, 3)), np.arange(20) % 2, n_classes=2)
    raw.y_test = np.array([0, 1, 2, -1])
    with pytest.raises(BadInput, match=r"y_test holds label 2 \(2 row\(s\)\); expected 0..1"):
        check_raw(raw, "mine.npz")


def test_mismatched_lengths_and_shapes():
    raw = raw_from(np.ones((20, 3)), np.arange(19) % 2)
    with pytest.raises(BadInput, match="x_train has 20 rows but y_train has 19 labels"):
        check_raw(raw, "x")
    raw = raw_from(np.ones((20, 3)), np.arange(20) % 2, x_test=np.ones((4, 5)))
    with pytest.raises(BadInput, match=r"x_train rows have shape \(3,\) but x_test rows \(5,\)"):
        check_raw(raw, "x")


def test_every_class_needs_training_rows():
    raw = raw_from(np.ones((20, 3)), 1 + np.arange(20) % 2)  # labels 1..2, no 0
    with pytest.raises(BadInput, match="class '0' has no training rows"):
        check_raw(raw, "x")


# ---------------------------------------------------------------- prepare

def test_validation_split_takes_the_last_rows():
    x = np.arange(100, dtype=np.float64).reshape(50, 2)
    raw = raw_from(x, np.arange(50) % 2)
    ds = prepare(raw, "x", scale="none", validation_split=0.2)
    assert ds.x_val.tolist() == x[40:].tolist() and ds.y_val.tolist() == (np.arange(40, 50) % 2).tolist()
    assert ds.x_train.tolist() == x[:40].tolist()
    assert ds.info.class_counts == {"train": [20, 20], "val": [5, 5], "test": [2, 2]}
    assert prepare(raw, "x", validation_split=0.0).x_val.shape == (0, 2)
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(BadInput, match="data.validation_split"):
            prepare(raw, "x", validation_split=bad)


def test_bad_scale():
    raw = raw_from(np.ones((10, 2)), np.arange(10) % 2)
    with pytest.raises(BadInput) as e:
        prepare(raw, "x", scale="minmax")
    assert str(e.value) == "data.scale = \"minmax\": expected one of unit, symmetric, standard, none"


def test_warning_for_double_scaling():
    pixels = np.random.default_rng(0).integers(0, 256, (40, 16)) / 255.0  # already scaled once
    raw = raw_from(pixels, np.arange(40) % 2, value_range=(0, 255), image_shape=(4, 4))
    ds = prepare(raw, "x")
    assert any("probably scaled twice" in w for w in ds.info.warnings)
    assert ds.info.value_max <= 1 / 255 + 1e-7


def test_warning_for_unscaled_pixels(mnist_raw):
    ds = prepare(mnist_raw, "mnist", scale="none", validation_split=0)
    assert "inputs reach 255 with scale = 'none': unscaled pixels make training slow or unstable; " \
           "use scale = 'unit'" in ds.info.warnings
    assert prepare(mnist_raw, "mnist").info.warnings == []


def test_warnings_for_imbalance_and_sorted_rows():
    y = np.array([0] * 80 + [1] * 20)  # sorted by class, 4x imbalance
    raw = raw_from(np.random.default_rng(0).random((100, 2)), y, y_test=np.array([0, 1, 0, 1]))
    warnings = prepare(raw, "x", validation_split=0.1).info.warnings
    assert any(w.startswith("class imbalance: class '0' has 80 training rows, class '1' only 10") for w in warnings)
    assert any("validation rows (the last 10 training rows) hold no class '0'" in w for w in warnings)


# ---------------------------------------------------------------- figures

def test_sample_grid_for_images_and_points():
    from mlplab.present.figures import sample_grid
    ds = load_dataset("digits")
    fig = sample_grid(ds.x_train, ds.y_train, ds.info.class_names, (8, 8), n=9, class_index=3)
    def tile_titles(fig):  # the gallery is one montage image with a title over each tile
        return [t.get_text() for ax in fig.axes for t in ax.texts]
    assert tile_titles(fig) == ["3"] * 9
    probs = np.eye(10)[(ds.y_test + 1) % 10]
    fig = sample_grid(ds.x_test, ds.y_test, ds.info.class_names, (8, 8), n=4, probabilities=probs)
    assert len(tile_titles(fig)) == 4 and all("→" in t for t in tile_titles(fig))
    pts = load_dataset("cosine2d")
    fig = sample_grid(pts.x_train, pts.y_train, pts.info.class_names, None)
    assert len(fig.axes[0].collections) == 2
    with pytest.raises(BadInput, match="class index 5"):
        sample_grid(pts.x_train, pts.y_train, pts.info.class_names, None, class_index=5)


def test_show_rows_by_index_in_the_cli_and_the_api(tmp_path, capsys):
    import mlplab as ml
    from mlplab.cli import main
    out = tmp_path / "row.png"
    assert main(["data", "show", "digits", "--index", "500", "--out", str(out)]) == 0 and out.stat().st_size > 1000
    assert main(["data", "show", "digits", "--index", "358", "--count", "5", "--split", "test",
                 "--out", str(tmp_path / "rows.png")]) == 0
    assert main(["data", "show", "digits", "--index", "360", "--split", "test"]) == 2
    assert "--index 360: expected 0..359 (the test split has 360 rows)" in capsys.readouterr().err
    ds = ml.load_dataset("digits")
    fig = ds.show(500)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [f"train[500]: {ds.y_train[500]}"]
    titles = [ax.get_title() for ax in ds.show(3, count=4, split="test").axes if ax.get_title()]
    assert titles == [f"test[{i}]: {ds.y_test[i]}" for i in range(3, 7)]
    assert len([t for ax in ds.show(count=9).axes for t in ax.texts]) == 9  # random samples: one montage
