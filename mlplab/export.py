"""A stored run -> other tools' formats: TensorBoard event files, ONNX.

    export_tensorboard(store, "last", "tb/")    # then: tensorboard --logdir tb/
    export_onnx(store, "last", "model.onnx")    # needs the `onnx` extra (jax2onnx, onnx)

TensorBoard gets, under DIR/<run-id>/, what a run writes while it trains, in the same layout
and under the same tags (stored.tensorboard: Keras' callback layout, train/ and validation/
overlaid): every per-epoch metric (`train/epoch_loss`, `validation/epoch_loss`,
`test/epoch_accuracy`, ...), the doctor's per-layer statistics, and a histogram of each weight
tensor at step 0 (weights_init.npz) and at the last epoch (the trained model). Events are
written with tensorboardX, TensorBoard's own file format without TensorFlow.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import BadInput
from .store import Store
from .store.artifacts import INITIAL_WEIGHTS, MODEL
from .stored import load_model, run_folder
from .stored.model import trained_weights
from .stored.tensorboard import RunEvents, check_output_dir, clean_tag, summary_writer


def check_output_file(option: str, path: str | Path, suffixes: tuple[str, ...] = ()) -> Path:
    """`path` as a file this process can write, or BadInput naming `option`: checked before
    any work, so a typo costs nothing. Its folder must exist; `suffixes`: the endings allowed."""
    p = Path(path)
    if p.is_dir():
        raise BadInput(f"{option} {p}: is a folder; give a file name in it, e.g. {p / ('out' + (suffixes or ('',))[0])}")
    if suffixes and p.suffix.lower() not in suffixes:
        raise BadInput(f"{option} {p}: expected a file name ending in {', '.join(suffixes)}")
    folder = p.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise BadInput(f"{option} {p}: the folder {folder} {what}; create the folder first or choose another path")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"{option} {p}: the folder {folder} is not writable")
    return p


def export_tensorboard(store: Store, run_ref: str, out_dir: str | Path) -> Path:
    """Write the run's TensorBoard event files under out_dir/<run-id>/; returns that folder."""
    check_output_dir("--tensorboard", out_dir)
    summary_writer("--tensorboard")
    from .stored import load_stats
    run = store.get_run(run_ref)
    stats = load_stats(store, run["id"]) or {}   # BadInput when the run's folder is gone: before writing
    folder = check_output_dir("--tensorboard", Path(out_dir) / run["id"])
    folder.mkdir(parents=True, exist_ok=True)
    history = run.get("history") or {}
    epochs = history.get("epoch") or []
    events = RunEvents(folder, "--tensorboard", flush_secs=1)
    try:
        events.text("run", f"{run['id']} · {run.get('name')} · {run.get('status')} · test accuracy "
                           f"{run.get('test_accuracy')}")
        for row, epoch in enumerate(epochs):
            events.epoch(int(epoch), {k: v[row] for k, v in history.items() if row < len(v)}, stats)
        initial, final = _npz(run_folder(store, run["id"]) / INITIAL_WEIGHTS), _final_weights(store, run)
        if len(initial) == len(final):  # a reloaded model names its variables without the model's prefix
            final = dict(zip(initial, final.values()))
        events.weights(0, initial)
        events.weights(int(epochs[-1]) if epochs else 1, final)
    finally:
        events.close()
    return folder


def _npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _final_weights(store: Store, run: dict) -> dict[str, np.ndarray]:
    """The trained weights: those in model.keras, or weights_final.npz where Keras could not save the model."""
    final = trained_weights(store, run["id"])
    if final or not (run_folder(store, run["id"]) / MODEL).exists():
        return final
    return {v.path: np.asarray(v.value) for v in load_model(store, run).trainable_variables}


def export_onnx(store: Store, run_ref: str, out_file: str | Path, *, safe_mode: bool = True) -> Path:
    """Write the run's trained model as ONNX (inference mode: dropout off, batch-norm moving
    statistics), converted from its JAX function by jax2onnx. The batch size stays free. The file is
    written only when onnxruntime runs it and it predicts what the model does (check_onnx)."""
    out = check_output_file("--onnx", out_file)
    try:
        import jax2onnx  # noqa: F401
        import onnx
        import onnxruntime
    except ImportError:
        raise BadInput("--onnx: needs the jax2onnx, onnx and onnxruntime packages: pip install 'mlplab[onnx]'") from None
    import jax.numpy as jnp
    run = store.get_run(run_ref)
    model = load_model(store, run, safe_mode=safe_mode)
    trainable = [jnp.asarray(v.value) for v in model.trainable_variables]
    non_trainable = [jnp.asarray(v.value) for v in model.non_trainable_variables]

    def predict(x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    shape = tuple(model.inputs[0].shape[1:])
    try:
        proto = jax2onnx.to_onnx(predict, inputs=[("B", *shape)], model_name=clean_tag(run.get("name") or "mlplab"))
    except Exception as e:  # a JAX primitive jax2onnx has no rule for (a custom layer, an odd op)
        layers = sorted({type(layer).__name__ for layer in model.layers})
        raise BadInput(f"--onnx: jax2onnx cannot convert this model (layers: {', '.join(layers)}): "
                       f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    x = np.random.default_rng(0).uniform(0, 1, (4, *shape)).astype("float32")
    check_onnx(lambda a: onnx_predict(onnxruntime, proto.SerializeToString(), a), lambda a: np.asarray(predict(a)), x)
    onnx.save(proto, str(out))
    return out


def onnx_predict(onnxruntime, model: bytes, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def check_onnx(converted, original, x: np.ndarray, atol: float = 1e-4) -> None:
    """BadInput, before anything is written, unless the converted model runs (onnxruntime) and predicts
    on x what the run's model does: a file that exits 0 but no runtime can use is worse than none."""
    try:
        got = np.asarray(converted(x))
    except Exception as e:   # e.g. a MaxPool whose kernel spans the batch and channel axes
        raise BadInput(f"--onnx: onnxruntime cannot run the converted model ({type(e).__name__}: "
                       f"{str(e).splitlines()[0][:200]}); nothing written") from None
    want = original(x)
    if got.shape != want.shape or not np.allclose(got, want, atol=atol):
        diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("nan")
        raise BadInput(f"--onnx: the converted model predicts differently from the run's model (largest "
                       f"difference {diff:.3g}, shapes {got.shape} and {want.shape}); nothing written")
