"""User data files: IDX folders, .npz and .csv files, read back exactly, and the one-line messages that
name the file, the field and the bad value when they are wrong."""
import warnings

import numpy as np
import pytest

from mlplab.data.files import read_idx
from mlplab.data.prepare import load_dataset, prepare
from mlplab.data.sources import load_raw
from mlplab.errors import BadInput

from test_data import isolated, raw_from, small_idx_folder, write_idx  # noqa: E402,F401  (isolated: autouse)


# ---------------------------------------------------------------- IDX files

@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loads_back_exactly(tmp_path, gz):
    arrays = small_idx_folder(tmp_path / "idx", gz=gz)
    raw = load_raw(str(tmp_path / "idx"))
    assert np.array_equal(raw.x_train, arrays["train-images-idx3-ubyte"])
    assert np.array_equal(raw.y_train, arrays["train-labels-idx1-ubyte"])
    assert np.array_equal(raw.x_test, arrays["t10k-images-idx3-ubyte"])
    assert np.array_equal(raw.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert raw.class_names == ["0", "1", "2"] and raw.image_shape == (5, 4) and raw.value_range == (0, 255)
    ds = load_dataset(str(tmp_path / "idx"), flatten=False, validation_split=0)
    assert ds.x_train.shape == (30, 5, 4, 1)
    np.testing.assert_allclose(ds.x_train[..., 0], arrays["train-images-idx3-ubyte"] / 255, atol=1e-7)


def test_idx_bad_magic(tmp_path):
    small_idx_folder(tmp_path, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    blob = bytearray(path.read_bytes())
    blob[3] = 0x03  # says "images"
    path.write_bytes(bytes(blob))
    with pytest.raises(BadInput, match=rf"{path}: magic number 0x00000803, expected 0x00000801"):
        load_raw(str(tmp_path))


def test_idx_truncated(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    full = write_idx(path, np.zeros((60, 28, 28), np.uint8)).read_bytes()
    path.write_bytes(full[:16 + 1203])
    with pytest.raises(BadInput) as e:
        read_idx(path, "images")
    assert str(e.value) == (f"data file {path}: truncated, header says 60 images of 28x28 (47040 bytes) "
                            f"but holds 1203 bytes of pixel data")


def test_idx_truncated_gzip_and_not_gzip(tmp_path):
    path = write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(1000, np.uint8))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(BadInput, match=rf"{path}: not a valid gzip file"):
        read_idx(path, "labels")
    path.write_bytes(b"hello, not gzip at all")
    with pytest.raises(BadInput, match=rf"{path}: not a valid gzip file"):
        read_idx(path, "labels")


def test_idx_count_mismatch_names_both_files(tmp_path):
    small_idx_folder(tmp_path, gz=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(9, np.uint8))
    with pytest.raises(BadInput) as e:
        load_raw(str(tmp_path))
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte.gz (10 images)" in msg and "t10k-labels-idx1-ubyte.gz (9 labels)" in msg


def test_idx_folder_missing_a_file(tmp_path):
    small_idx_folder(tmp_path, gz=True)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(BadInput, match="missing t10k-images-idx3-ubyte"):
        load_raw(str(tmp_path))


# ---------------------------------------------------------------- npz and csv files

def test_npz_user_file_with_one_hot_labels_and_channel_axis(tmp_path):
    rng = np.random.default_rng(1)
    x_train = rng.random((40, 6, 6, 1)).astype(np.float32)
    y_train = np.eye(4)[np.arange(40) % 4]
    x_test = rng.random((8, 6, 6, 1)).astype(np.float32)
    y_test = np.eye(4)[np.arange(8) % 4]
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    raw = load_raw(str(path))
    assert raw.x_train.shape == (40, 6, 6) and raw.image_shape == (6, 6) and raw.value_range is None
    assert raw.y_train.tolist() == (np.arange(40) % 4).tolist() and raw.class_names == ["0", "1", "2", "3"]
    ds = load_dataset(str(path), validation_split=0.25, flatten=False)
    assert ds.x_train.shape == (30, 6, 6, 1) and ds.x_val.shape == (10, 6, 6, 1)
    lo, hi = x_train[:30].min(), x_train[:30].max()  # min/max of the training rows
    np.testing.assert_allclose(ds.x_test, (x_test - lo) / (hi - lo), atol=1e-6)


def test_npz_missing_key_and_garbage(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((3, 2)), y_train=np.zeros(3))
    with pytest.raises(BadInput, match=r"partial.npz: missing array\(s\) x_test, y_test"):
        load_raw(str(path))
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(BadInput, match="junk.npz: not a readable .npz file"):
        load_raw(str(junk))


def test_csv_with_header_and_label_column(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (50, 16))
    y = np.arange(50) % 5
    path = tmp_path / "pix.csv"
    header = ",".join([f"p{i}" for i in range(8)] + ["label"] + [f"p{i}" for i in range(8, 16)])
    rows = [",".join(map(str, [*r[:8], lab, *r[8:]])) for r, lab in zip(x, y)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    raw = load_raw(str(path))
    # no separate test set in a CSV: the last 20% of rows are the test set
    assert raw.x_train.shape == (40, 16) and raw.x_test.shape == (10, 16)
    assert np.array_equal(raw.x_train, x[:40]) and np.array_equal(raw.x_test, x[40:])
    assert raw.y_test.tolist() == y[40:].tolist() and raw.class_names == ["0", "1", "2", "3", "4"]
    assert raw.image_shape == (4, 4)


def test_csv_without_header_uses_first_column(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("".join(f"{i % 2},{i},{-i}\n" for i in range(10)))
    raw = load_raw(str(path))
    assert raw.y_train.tolist() == [0, 1] * 4 and raw.x_test.tolist() == [[8, -8], [9, -9]]
    assert raw.image_shape is None
    with pytest.raises(BadInput, match="data.flatten = false: dataset .*plain.csv has no image shape"):
        prepare(raw, str(path), flatten=False)


def test_csv_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(BadInput, match="bad.csv: header has no column named 'label'"):
        load_raw(str(path))
    path.write_text("1,2,3\n0,x,5\n1,2,3\n")
    with pytest.raises(BadInput) as e:
        load_raw(str(path))
    assert str(e.value) == (f'data file {path}: not a numeric CSV: column 2 holds "x" in data row 2; '
                            f"features must be numbers")
    path.write_text("0.5,2,3\n0,1,5\n1,2,3\n")
    with pytest.raises(BadInput, match=r"bad.csv: label 0.5 in data row 1"):
        load_raw(str(path))


# ---------------------------------------------------------------- messages about user files

def message(name, **kwargs) -> str:
    """The one-line BadInput message of loading and preparing `name`; no warning may be printed on the way."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BadInput) as e:
            load_dataset(str(name), **kwargs)
    msg = str(e.value)
    assert "\n" not in msg and "pickle" not in msg and "np." not in msg and "dtype" not in msg, msg
    return msg


def save_npz(path, y_train, y_test=None, x_train=None, x_test=None):
    y_test = y_train[:2] if y_test is None else y_test
    x_train = np.ones((len(y_train), 3)) if x_train is None else x_train
    x_test = np.ones((len(y_test), 3)) if x_test is None else x_test
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def test_text_labels_in_a_csv_name_the_file_column_and_value(tmp_path):
    path = tmp_path / "pets.csv"
    path.write_text("label,a,b\ncat,1,2\ndog,3,4\ncat,5,6\ndog,1,1\n")
    assert message(path) == (f'data file {path}: column "label" (the label) holds "cat" in data row 1; '
                             f"labels must be integer class indices 0..C-1 for C classes "
                             f"(map each class to a number: 0, 1, 2, ...)")
    path.write_text("a,label\n1,0\n2,1\n3,dog\n4,0\n")
    assert message(path).startswith(f'data file {path}: column "label" (the label) holds "dog" in data row 3; ')
    path.write_text("cat,1,2\ndog,3,4\ncat,5,6\n")  # no header: the first column is the label
    assert message(path).startswith(f'data file {path}: the first column (the label) holds "cat" in data row 1; '
                                    f"labels must be integer class indices 0..C-1")


def test_text_and_float_labels_in_an_npz(tmp_path):
    path = save_npz(tmp_path / "pets.npz", np.array(["cat", "dog", "cat", "dog"]))
    assert message(path) == (f'data file {path}: y_train holds the label "cat" (row 0); labels must be integer '
                             f"class indices 0..C-1 for C classes; map each class name to its index "
                             f"(and save the names as class_names)")
    path = save_npz(tmp_path / "half.npz", np.array([0, 1, 1.5, 0]))
    assert message(path) == (f"data file {path}: y_train holds the label 1.5 (row 2); labels must be integer "
                             f"class indices 0..C-1 for C classes")
    path = save_npz(tmp_path / "nan.npz", np.array([0, 1, 0, 1.0]), y_test=np.array([np.nan, 1]))
    assert message(path).startswith(f"data file {path}: y_test holds the label nan (row 0); ")
    path = save_npz(tmp_path / "objects.npz", np.array([0, 1, "a", None], dtype=object))
    assert message(path) == (f"data file {path}: y_train holds Python objects, which mlplab does not load; "
                             f"save it as an array of numbers (or of strings, for class_names)")
    path = save_npz(tmp_path / "words.npz", np.array([0, 1, 0, 1]), x_train=np.array([["a", "b"]] * 4))
    assert message(path) == f'data file {path}: x_train holds text (e.g. "a"), expected numbers'
    path = save_npz(tmp_path / "one.npz", np.array([0, 0, 0, 0]))
    assert message(path) == (f"data file {path}: labels of 1 class ('0'); a classifier needs labels of "
                             f"at least 2 classes")


# (file content, its message after "data file PATH: ", whole or only its start)
CSV_MESSAGES = [
    ("", "no rows (the file is empty); expected one row per sample: a label column and feature columns", True),
    ("\n\n", "no rows (the file is empty)", False),
    ("label,a,b\n", "no rows after the header (label, a, b); expected one row per sample", True),
    ("label,a,b\n\n# only a comment\n", "no rows after the header", False),
    ("0,1,2\n1,2\n0,1,1\n", "data row 2 has 2 columns, the rows before it 3; every row needs the same columns", True),
    ("label,a,b\n0,1,\n1,2,3\n", 'not a numeric CSV: column "b" is empty in data row 1; features must be numbers', True),
    ("0\n1\n0\n", "1 column; expected a label column and at least one feature column", True),
    ("0,1\n", "1 data row; expected at least 2 (the last 20% become the test set)", True),
]


@pytest.mark.parametrize("content, expected, whole", CSV_MESSAGES,
                         ids=["empty", "blank-lines", "header-only", "header-and-comment", "ragged-rows",
                              "empty-cell", "one-column", "one-row"])
def test_a_csv_without_usable_rows_or_columns_says_which_in_one_line(tmp_path, content, expected, whole):
    """Empty and header-only files, ragged rows, empty cells, one column, one row (message() also fails on
    any warning printed on the way)."""
    path = tmp_path / "odd.csv"
    path.write_text(content)
    got = message(path)
    want = f"data file {path}: {expected}"
    assert (got == want) if whole else got.startswith(want)


def test_quoted_numbers_in_a_csv_are_numbers(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('"label","a"\n' + "".join(f'"{i % 2}","{i}"\n' for i in range(10)))
    raw = load_raw(str(path))
    assert raw.y_train.tolist() == [0, 1] * 4 and raw.x_test.tolist() == [[8], [9]]


def test_a_file_that_is_not_a_npz_archive(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("just some text\n")
    expected = (f"data file {path}: not a .npz archive (a .npz file is a zip of arrays as numpy.savez writes it: "
                f"x_train, y_train, x_test, y_test)")
    assert message(path) == expected
    single = tmp_path / "single.npz"
    np.save(tmp_path / "single.npy", np.ones(3))
    (tmp_path / "single.npy").rename(single)  # one .npy array, not an archive
    assert message(single) == expected.replace(str(path), str(single))
    cut = save_npz(tmp_path / "cut.npz", np.array([0, 1, 0, 1]))
    cut.write_bytes(cut.read_bytes()[:200])  # a copy or download interrupted
    assert message(cut) == f"data file {cut}: not a readable .npz file (a damaged or truncated zip archive)"


def test_npz_with_empty_arrays(tmp_path):
    path = save_npz(tmp_path / "empty.npz", np.zeros(0, int), y_test=np.zeros(0, int),
                    x_train=np.zeros((0, 3)), x_test=np.zeros((0, 3)))
    assert message(path) == f"data file {path}: x_train has no rows; expected one row per sample"


def test_validation_split_that_leaves_too_few_training_rows(tmp_path):
    path = save_npz(tmp_path / "four.npz", np.array([0, 1, 0, 1]))
    assert message(path, validation_split=0.75) == (
        "data.validation_split = 0.75: leaves 1 training and 3 validation rows, fewer training rows than "
        "the 2 classes; use a smaller split")
    assert message(path, validation_split=0.9).startswith("data.validation_split = 0.9: leaves 1 training and 3 ")
    ds = load_dataset(str(path), validation_split=0.5)
    assert (ds.info.n_train, ds.info.n_val) == (2, 2)
    sorted_rows = save_npz(tmp_path / "sorted.npz", np.array([0, 0, 0, 1, 1, 1]))  # class 1 only in the last rows
    assert message(sorted_rows, validation_split=0.5) == (
        "data.validation_split = 0.5: leaves 3 training and 3 validation rows, and no training row of class '1' "
        "(the split takes the LAST rows); use a smaller split, or shuffle the rows first")


def test_validation_split_that_leaves_no_validation_rows(tmp_path):
    path = save_npz(tmp_path / "four.npz", np.array([0, 1, 0, 1]))
    assert message(path, validation_split=0.1) == (
        "data.validation_split = 0.1: leaves 0 of the 4 training rows for validation; use 0 (no validation) "
        "or a split of at least 0.25")
    assert load_dataset(str(path), validation_split=0.25).info.n_val == 1
    assert load_dataset(str(path), validation_split=0).info.n_val == 0
    raw = raw_from(np.ones((50, 2)), np.arange(50) % 2)
    with pytest.raises(BadInput, match=r"validation_split = 0.019: leaves 0 of the 50 training rows .* at least 0.02$"):
        prepare(raw, "x", validation_split=0.019)
    assert prepare(raw, "x", validation_split=0.02).info.n_val == 1
