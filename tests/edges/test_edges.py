"""Edges: output paths refused before any work, figures that say what they plot, `mlplab --version`."""
import io
from importlib.metadata import version

import numpy as np
import pytest

from mlplab.present import figures
from mlplab.cli import main


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


# ---------------------------------------------------------------- --version

def test_version_prints_the_installed_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"mlplab {version('mlplab')}\n"


# ---------------------------------------------------------------- output paths, checked before any work
# The run ids do not exist: the path is refused before the store is even read.

def test_compare_out_into_a_missing_folder(tmp_path, capsys):
    out = tmp_path / "missing" / "dir" / "curves.png"
    assert main(["--home", str(tmp_path / "home"), "compare", "nope1", "nope2", "--out", str(out)]) == 2
    assert one_error_line(capsys) == (f"mlplab: error: --out {out}: the folder {out.parent} does not exist; "
                                      "create the folder first or choose another path")
    assert not (tmp_path / "home").exists()               # no work done: not even the store was created


@pytest.mark.parametrize("name, message", [
    ("adir", "is a folder; give a file name in it"),
    ("curves.txt", "expected a file name ending in .png, .svg, .pdf"),
    ("afile/curves.png", "is a file, not a folder"),
])
def test_compare_out_other_unwritable_targets(tmp_path, capsys, name, message):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    assert main(["--home", str(tmp_path / "home"), "compare", "a", "b", "--out", str(tmp_path / name)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"mlplab: error: --out {tmp_path / name}: ") and message in line


def test_export_tensorboard_onto_a_file(tmp_path, capsys):
    target = tmp_path / "events.txt"
    target.write_text("not a folder")
    assert main(["--home", str(tmp_path), "export", "nope", "--tensorboard", str(target)]) == 2
    assert one_error_line(capsys) == (f"mlplab: error: --tensorboard {target}: is a file; "
                                      "expected a folder (created when missing)")
    assert main(["--home", str(tmp_path), "export", "nope", "--tensorboard", str(target / "sub")]) == 2
    assert one_error_line(capsys).endswith(f"{target} is a file, not a folder")


def test_export_onnx_into_a_missing_folder_or_onto_a_folder(tmp_path, capsys):
    missing = tmp_path / "no" / "m.onnx"
    assert main(["--home", str(tmp_path), "export", "nope", "--onnx", str(missing)]) == 2
    assert f"--onnx {missing}: the folder {missing.parent} does not exist" in one_error_line(capsys)
    assert main(["--home", str(tmp_path), "export", "nope", "--onnx", str(tmp_path)]) == 2
    assert f"--onnx {tmp_path}: is a folder; give a file name in it" in one_error_line(capsys)


# ---------------------------------------------------------------- figures say what they plot

def test_overlaid_curves_without_validation_say_they_plot_training_loss():
    no_val = {"loss": [1.0, 0.5, 0.4], "accuracy": [0.6, 0.8, 0.85],
              "train_loss": [0.9, 0.45, 0.35], "train_accuracy": [0.65, 0.82, 0.9]}
    fig = figures.overlaid_curves([no_val, no_val], ["a", "b"])
    loss_ax, acc_ax = fig.axes[:2]
    assert loss_ax.get_title() == loss_ax.get_ylabel() == "train loss (running)"
    assert acc_ax.get_title() == acc_ax.get_ylabel() == "train accuracy (running)"
    assert np.allclose(loss_ax.lines[0].get_ydata(), no_val["loss"])          # what the label says
    with_val = {**no_val, "val_loss": [1.1, 0.6, 0.5], "val_accuracy": [0.6, 0.7, 0.8]}
    mixed = figures.overlaid_curves([with_val, no_val], ["a", "b"])
    assert mixed.axes[0].get_title() == "val loss (dash-dot: train loss (running))"
    assert [line.get_label() for line in mixed.axes[0].lines] == ["a", "b (train)"]
    assert figures.overlaid_curves([with_val], ["a"]).axes[1].get_ylabel() == "val accuracy"


def xticks(fig, ax) -> np.ndarray:
    fig.savefig(io.BytesIO(), format="png")              # lay out the ticks
    lo, hi = ax.get_xlim()
    return np.asarray([t for t in ax.get_xticks() if lo <= t <= hi])


def test_epoch_axes_have_whole_numbers():
    history = {"loss": [1.0, 0.5, 0.4], "accuracy": [0.6, 0.8, 0.85], "epoch": [1, 2, 3]}
    fig = figures.learning_curves(history)
    stats = {"epoch": [0, 1, 2, 3], "weights": ["dense_1/kernel"], "layers": [],
             "grad_norm": [[1.0], [0.5], [0.4], [0.3]], "update_ratio": [[None], [0.1], [0.05], [0.02]]}
    stats_fig = figures.training_statistics(stats)
    curves = figures.overlaid_curves([history], ["a"])
    for f, ax in ((fig, fig.axes[0]), (stats_fig, stats_fig.axes[0]), (curves, curves.axes[0])):
        ticks = xticks(f, ax)
        assert ticks.size and np.all(ticks == np.round(ticks)), ticks


def test_sweep_figures_tell_a_diverged_configuration_from_a_missing_metric():
    rows = [{"values": {"lr": 0.1, "opt": "sgd"}, "status": "diverged", "val_accuracy": float("nan")},
            {"values": {"lr": 0.01, "opt": "sgd"}, "status": "ok", "val_accuracy": float("nan")},
            {"values": {"lr": 0.001, "opt": "sgd"}, "status": "ok", "val_accuracy": 0.9}]
    heat = figures.sweep_heatmap(rows, "lr", "opt", "val_accuracy")
    texts = {t.get_text() for t in heat.axes[0].texts}
    assert {"NaN (diverged)", "no value", "0.900"} <= texts
    spread = figures.sweep_spread(rows, "val_accuracy")
    assert [t.get_text() for t in spread.axes[0].texts] == ["NaN (diverged)", "no value"]


def test_an_onnx_file_onnxruntime_cannot_run_or_that_predicts_otherwise_is_refused():
    from mlplab.errors import BadInput
    from mlplab.export import check_onnx
    x = np.ones((4, 3), "float32")

    def maxpool(_):
        raise RuntimeError("[ONNXRuntimeError] : MaxPool ... Unsupported pooling size\nmore")
    with pytest.raises(BadInput, match=r"^--onnx: onnxruntime cannot run the converted model \(RuntimeError: "
                                       r"\[ONNXRuntimeError\] : MaxPool \.\.\. Unsupported pooling size\); nothing written$"):
        check_onnx(maxpool, lambda a: a, x)
    with pytest.raises(BadInput, match=r"largest difference 0.5, shapes \(4, 3\) and \(4, 3\)\); nothing written$"):
        check_onnx(lambda a: a + 0.5, lambda a: a, x)
    check_onnx(lambda a: a + 1e-6, lambda a: a, x)   # equal within float rounding: written
