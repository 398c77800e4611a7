"""Former home of the whole data stage, now split along the data's flow; kept as a re-export
until its last callers move (cli.py, tests/test_spec.py, tests/test_truth.py), then deleted.

    data.files    files on disk -> RawData (IDX folders, .npz, .csv)
    data.sources  a built-in name or a path -> RawData (digits, MNIST, Fashion-MNIST, cosine2d; find, download)
    data.prepare  RawData -> Dataset (check_raw, the validation split, scaling, warnings; load_dataset)

Import from those modules, or from `mlplab.data`. The download settings (SYSTEM_DIR, MIRRORS,
SHA256, DOWNLOAD_TIMEOUT) are left out on purpose: patch them where they are used, in data.sources.
"""
from .files import CSV_TEST_FRACTION, IDX_FILES, LABEL_RULE, NPZ_KEYS, RawData, read_idx
from .prepare import SCALES, Dataset, DatasetInfo, check_raw, load_dataset, prepare
from .sources import COSINE2D_OPTIONS, DATASETS, FASHION_CLASSES, cosine2d, find_files, load_raw

__all__ = ["COSINE2D_OPTIONS", "CSV_TEST_FRACTION", "DATASETS", "FASHION_CLASSES", "IDX_FILES", "LABEL_RULE",
           "NPZ_KEYS", "SCALES", "Dataset", "DatasetInfo", "RawData", "check_raw", "cosine2d", "find_files",
           "load_dataset", "load_raw", "prepare", "read_idx"]
