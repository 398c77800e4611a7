"""mlplab export: TensorBoard event files read back with TensorBoard's own reader; ONNX."""
import os

import numpy as np
import pytest

import mlplab as ml
from mlplab.cli import main

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

pytest.importorskip("tensorboardX")


@pytest.fixture(scope="module")
def stored(digits_run):
    """The session's 5-epoch digits run (conftest.digits_run), read only."""
    home, doc = digits_run
    return home, ml.load_run(doc["run_id"], store=home)


def test_export_tensorboard_scalars_and_histograms(stored, tmp_path, capsys):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    home, run = stored
    assert main(["--home", str(home), "export", run.id, "--tensorboard", str(tmp_path / "tb")]) == 0
    def events(split):
        acc = event_accumulator.EventAccumulator(str(tmp_path / "tb" / run.id / split),
                                                 size_guidance={"scalars": 0, "histograms": 0})
        acc.Reload()
        return acc
    for split in ("train", "validation", "test"):   # Keras' callback layout: one tag, a folder per split
        assert {"epoch_loss", "epoch_accuracy"} <= set(events(split).Tags()["scalars"])
    val = [(e.step, e.value) for e in events("validation").Scalars("epoch_loss")]
    assert [s for s, _ in val] == [1, 2, 3, 4, 5]
    assert np.allclose([v for _, v in val], run.history["val_loss"].to_numpy(), rtol=1e-6)
    acc = events("train")
    kernel = [t for t in acc.Tags()["histograms"] if t.endswith("output/kernel")]
    assert len(kernel) == 1 and [e.step for e in acc.Histograms(kernel[0])] == [0, 5]


def test_export_needs_a_target(stored, capsys):
    home, run = stored
    assert main(["--home", str(home), "export", run.id]) == 2
    assert "--tensorboard" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("MLPLAB_SLOW_TESTS"), reason="ONNX conversion takes ~30 s: MLPLAB_SLOW_TESTS=1")
def test_export_onnx_matches_the_model(stored, tmp_path):
    pytest.importorskip("jax2onnx")
    ort = pytest.importorskip("onnxruntime")
    home, run = stored
    assert main(["--home", str(home), "export", run.id, "--onnx", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    x = ml.load_dataset("digits").x_test[:7]
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.allclose(out, run.predict(x), atol=1e-5)


def test_export_refuses_unwritable_targets_as_bad_input(stored, tmp_path):
    from mlplab.errors import BadInput
    from mlplab.export import export_onnx, export_tensorboard
    from mlplab.store.store import Store
    home, run = stored
    store = Store(home)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(BadInput, match=f"^--tensorboard {afile}: is a file; expected a folder"):
        export_tensorboard(store, run.id, afile)
    (tmp_path / "tb" / run.id).parent.mkdir()
    (tmp_path / "tb" / run.id).write_text("x")             # where the run's folder would go
    with pytest.raises(BadInput, match=f"^--tensorboard {tmp_path / 'tb' / run.id}: is a file"):
        export_tensorboard(store, run.id, tmp_path / "tb")
    with pytest.raises(BadInput, match=f"^--onnx {tmp_path / 'no' / 'm.onnx'}: the folder {tmp_path / 'no'} does not"):
        export_onnx(store, run.id, tmp_path / "no" / "m.onnx")
