"""Preparing a drawn digit the MNIST way, and predicting it with a stored run's model."""
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mlplab.cli import main
from mlplab.errors import BadInput
from mlplab.predict import load_image, predict_image, prepare_image
from mlplab.training.runner import run_experiments
from mlplab.spec import validate
from mlplab.store.store import Store


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def drawn(digit: int, size: int = 200, offset=(0, 0), background: int = 255) -> Image.Image:
    """A digit drawn with thick strokes, as a user would on a canvas."""
    img = Image.new("L", (size, size), background)
    pen = 255 - background
    g = ImageDraw.Draw(img)
    s, (dx, dy) = size / 200, offset
    if digit == 0:
        g.ellipse((55 * s + dx, 25 * s + dy, 145 * s + dx, 175 * s + dy), outline=pen, width=int(16 * s))
    elif digit == 1:
        g.line((100 * s + dx, 25 * s + dy, 100 * s + dx, 175 * s + dy), fill=pen, width=int(16 * s))
    elif digit == 7:
        g.line((50 * s + dx, 30 * s + dy, 150 * s + dx, 30 * s + dy), fill=pen, width=int(16 * s))
        g.line((150 * s + dx, 30 * s + dy, 85 * s + dx, 175 * s + dy), fill=pen, width=int(16 * s))
    return img


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("predict-store"))
    exp = validate({"data": {"dataset": "digits"}, "model": {"hidden": [64]},
                    "train": {"epochs": 8, "learning_rate": 0.01, "early_stopping": False}})
    run_experiments([exp], store)
    return store


def test_28x28_is_centred_by_mass_and_scaled_to_20px():
    gray = np.asarray(drawn(1, 300, offset=(-80, 40)), np.float32) / 255  # off-centre, black on white
    x = prepare_image(gray, 28)
    assert x.shape == (28, 28) and x.max() == pytest.approx(255, abs=2) and x.min() == 0
    rows, cols = np.where(x > 30)
    assert rows.max() - rows.min() + 1 in (19, 20, 21)  # the longer side is 20 px
    yy, xx = np.mgrid[0:28, 0:28]
    assert abs((x * yy).sum() / x.sum() - 13.5) <= 1 and abs((x * xx).sum() / x.sum() - 13.5) <= 1
    assert x[0].max() == 0 and x[:, 0].max() == 0  # white background became black


def test_inverted_input_gives_the_same_digit():
    dark = prepare_image(np.asarray(drawn(7, background=0), np.float32) / 255, 28)
    light = prepare_image(np.asarray(drawn(7, background=255), np.float32) / 255, 28)
    assert np.abs(dark - light).max() < 1e-3


def test_8x8_has_digits_value_range():
    x = prepare_image(np.asarray(drawn(0), np.float32) / 255, 8)
    assert x.shape == (8, 8) and 0 <= x.min() and x.max() <= 16 and x.max() > 8


def test_bad_images_are_one_line_errors():
    with pytest.raises(BadInput, match="not a PNG"):
        load_image(b"hello, not an image", "x.png")
    with pytest.raises(BadInput, match="empty"):
        load_image(b"", "x.png")
    with pytest.raises(BadInput, match="truncated|cannot read"):
        load_image(png(drawn(1))[:200], "cut.png")
    with pytest.raises(BadInput, match="blank"):
        prepare_image(np.ones((50, 50), np.float32), 28)
    rgba = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line((30, 5, 30, 55), fill=(0, 0, 0, 255), width=6)  # transparent canvas, black pen
    assert prepare_image(load_image(png(rgba)), 28).max() > 200


def test_8x8_is_made_as_scikit_learns_digits_were():
    # 32x32 bitmaps counted in 4x4 blocks: whole numbers 0..16, the digit as tall as the frame, centred across
    # with empty outer columns, and strokes as thick as theirs (about 313 of 1024 pixels on)
    x = prepare_image(np.asarray(drawn(7, 280, offset=(-60, 30)), np.float32) / 255, 8)
    assert np.array_equal(x, np.round(x)) and x.min() == 0 and x.max() == 16
    assert x[0].any() and x[-1].any() and not x[:, 0].any() and not x[:, -1].any()
    assert 250 <= x.sum() <= 380
    thin = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(thin).line([(80, 50), (200, 50), (120, 240)], fill=0, width=3)   # a 3 px pen
    assert 250 <= prepare_image(np.asarray(thin, np.float32) / 255, 8).sum() <= 380   # thickened


def canvas_of(digit8: np.ndarray) -> bytes:
    """A digits image (0..16) drawn 25x larger, black on white, in a 280x280 canvas-like PNG."""
    big = Image.fromarray((255 - digit8 / 16 * 255).astype(np.uint8)).resize((200, 200), Image.Resampling.NEAREST)
    img = Image.new("L", (280, 280), 255)
    img.paste(big, (40, 40))
    return png(img)


@pytest.mark.slow
def test_test_digits_drawn_on_a_canvas_are_read_back(store):
    from mlplab.data import load_raw
    raw = load_raw("digits")
    x_test, y_test = np.asarray(raw.x_test).reshape(-1, 8, 8)[:10], np.asarray(raw.y_test)[:10]
    results = [predict_image(store, "last", canvas_of(x)) for x in x_test]
    right = [p.predicted for p in results] == y_test
    assert right.sum() >= 8, ([p.predicted for p in results], y_test.tolist())
    back = np.stack([p.input for p in results])   # what the model saw: close to the original digits
    assert np.abs(back - x_test).mean() < 1.5


def stroke_seven(width: int) -> bytes:
    img = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(img).line([(80, 50), (200, 50), (120, 240)], fill=0, width=width, joint="curve")
    return png(img)


@pytest.mark.slow
@pytest.mark.parametrize("width", [6, 20, 32])
def test_a_hand_drawn_seven_is_a_seven_whatever_the_pen(store, width):
    p = predict_image(store, "last", stroke_seven(width))
    assert p.predicted == 7, np.round(p.probabilities, 3)


@pytest.mark.slow
@pytest.mark.parametrize("digit", [0, 1, 7])
def test_model_trained_on_digits_reads_a_drawn_digit(store, digit):
    p = predict_image(store, "last", png(drawn(digit)))
    assert p.predicted == digit, p.probabilities
    assert p.side == 8 and abs(sum(p.probabilities) - 1) < 1e-4


@pytest.mark.slow
def test_cli_predict(store, tmp_path, capsys):
    f = tmp_path / "seven.jpg"
    drawn(7).convert("RGB").save(f, "JPEG")
    assert main(["predict", "last", str(f), "--json", "--home", str(store.home)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["predicted"] == 7 and doc[0]["image"] == str(f)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    assert main(["predict", "last", str(bad), "--home", str(store.home)]) == 2
    assert main(["predict", "no-such-run", str(f), "--home", str(store.home)]) == 2
    err = capsys.readouterr().err
    assert "bad.png" in err and "no-such-run" in err and "Traceback" not in err


# ---------------------------------------------------------------- runs that did not end well

@pytest.fixture(scope="module")
def bad_store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("bad-runs"))


@pytest.fixture(scope="module")
def diverged(bad_store):
    store = bad_store
    exp = validate({"data": {"dataset": "digits"}, "model": {"hidden": [16], "init": {"name": "random_normal",
                                                                                      "stddev": 1e20}},
                    "train": {"epochs": 1, "early_stopping": False}})
    [result] = run_experiments([exp], store)
    assert result.status == "diverged"
    return store.get_run(result.run_id)


@pytest.mark.slow
def test_predicting_with_a_diverged_run_warns(bad_store, diverged):
    store = bad_store
    from mlplab.predict import RunModel, RunStatusWarning
    acc = diverged["test_accuracy"]
    with pytest.warns(RunStatusWarning) as caught:
        model = RunModel(store, diverged["id"])
    message = str(caught[0].message)
    assert message == model.warning
    assert message.startswith(f"run {diverged['id']} has status diverged (test accuracy "
                              + (f"{acc:.4f})" if acc == acc and acc is not None else "unknown)"))


@pytest.mark.slow
def test_cli_predict_with_a_diverged_run_prints_one_warning_line(bad_store, diverged, tmp_path, capsys):
    store = bad_store
    f = tmp_path / "one.png"
    drawn(1).save(f)
    assert main(["predict", diverged["id"], str(f), "--home", str(store.home)]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: run {diverged['id']} has status diverged")
    assert captured.out.startswith(f"{f}: ")


@pytest.mark.slow
def test_healthy_runs_predict_without_a_warning(store):
    import warnings

    from mlplab.predict import RunModel
    ok = [r for r in store.list_runs() if r["status"] == "ok"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RunModel(store, ok["id"]).warning is None


def test_status_warning_names_run_status_and_accuracy():
    from mlplab.predict import status_warning
    run = {"id": "r1", "status": "interrupted", "test_accuracy": 0.8512}
    assert status_warning(run).startswith("run r1 has status interrupted (test accuracy 0.8512): ")
    assert status_warning({**run, "status": "lost", "test_accuracy": None}).startswith(
        "run r1 has status lost (test accuracy unknown)")
    assert status_warning({**run, "status": "stopped"}) is None and status_warning({**run, "status": "ok"}) is None


@pytest.mark.slow
def test_runs_without_a_model_are_bad_input(bad_store):
    from mlplab.predict import RunModel
    store = bad_store
    lost = store.create_run(name="gone", spec={}, dataset="digits", model="64", optimizer="adam",
                            learning_rate=0.001)
    store.set_status(lost, "lost")
    with pytest.raises(BadInput, match=f"^run {lost}: has no trained model \\(status lost\\)$"):
        RunModel(store, lost)


# ---------------------------------------------------------------- the scaling statistics stored with a run

@pytest.fixture(scope="module")
def standard_run(tmp_path_factory):
    """A run on digits with data.scale = "standard": per-feature statistics, not a fixed range."""
    store = Store(tmp_path_factory.mktemp("standard-store"))
    exp = validate({"data": {"dataset": "digits", "scale": "standard", "validation_split": 0.2},
                    "model": {"hidden": [32]}, "train": {"epochs": 2, "early_stopping": False}})
    [result] = run_experiments([exp], store)
    return store, store.get_run(result.run_id), exp


@pytest.mark.slow
def test_a_run_stores_the_statistics_its_training_rows_were_scaled_with(standard_run):
    from mlplab.data import load_data, load_raw
    from mlplab.stored.artifacts import load_scaling
    store, run, exp = standard_run
    scaling = load_scaling(store, run["id"])
    data = load_data(exp)
    assert scaling.scale == "standard" and scaling.offset.shape == scaling.divisor.shape == (64,)
    np.testing.assert_array_equal(scaling.offset, data.scaling.offset)
    np.testing.assert_array_equal(scaling.divisor, data.scaling.divisor)
    raw = np.asarray(load_raw("digits").x_train, np.float32).reshape(-1, 64)
    n_fit = len(data.x_train)   # the statistics of the training rows only, as the run was trained
    np.testing.assert_allclose(scaling.offset, raw[:n_fit].mean(axis=0), atol=1e-5)
    np.testing.assert_array_equal(scaling.apply(raw[:n_fit].copy()), data.x_train)


@pytest.mark.slow
def test_predict_uses_the_stored_statistics_without_loading_the_data(standard_run, monkeypatch):
    import mlplab.data
    from mlplab.predict import RunModel
    from mlplab.stored.artifacts import load_scaling
    store, run, _ = standard_run

    def no_data(*args, **kwargs):
        raise AssertionError("predict loaded the data set")
    monkeypatch.setattr(mlplab.data, "load_data", no_data)
    monkeypatch.setattr(mlplab.data.prepare, "load_raw", no_data)
    model = RunModel(store, run["id"])
    np.testing.assert_array_equal(model.scaling.divisor, load_scaling(store, run["id"]).divisor)
    p = model.predict_image(png(drawn(7)))
    assert len(p.probabilities) == 10 and abs(sum(p.probabilities) - 1) < 1e-4


@pytest.mark.slow
def test_a_run_stored_without_statistics_gets_them_from_its_data(standard_run):
    from mlplab.predict import RunModel
    from mlplab.store.artifacts import SCALING
    store, run, _ = standard_run
    stored = RunModel(store, run["id"])
    path = store.artifact_dir(run["id"]) / SCALING
    kept = path.read_bytes()
    path.unlink()   # as a run stored before runs kept them
    try:
        again = RunModel(store, run["id"])
    finally:
        path.write_bytes(kept)
    np.testing.assert_array_equal(again.scaling.offset, stored.scaling.offset)
    np.testing.assert_array_equal(again.scaling.divisor, stored.scaling.divisor)
    image = png(drawn(1))
    assert again.predict_image(image).probabilities == stored.predict_image(image).probabilities
