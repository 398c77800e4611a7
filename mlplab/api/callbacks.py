"""Keras callbacks in `ml.fit`: driven between epochs by the engine (an engine.callbacks.Callback).

mlplab's engine runs an epoch's steps as one compiled program, so a callback gets the epoch
hooks Keras gives it (`on_train_begin`, `on_epoch_begin`, `on_epoch_end` with the epoch's logs,
`on_train_end`) with `self.model` holding the weights of that moment, compiled with the run's
optimizer and loss (so `self.model.evaluate(...)` works). What it does through the model is
honoured: a learning rate set on `model.optimizer` (LearningRateScheduler, ReduceLROnPlateau)
trains the next epoch, `model.stop_training = True` stops the run (status `stopped`).
EarlyStopping becomes the run's own early stopping (`train.early_stopping`). Callbacks that
need Python between batches are refused, naming what to use instead.
"""
from __future__ import annotations

import numpy as np

from ..engine.callbacks import Callback
from ..errors import BadInput

BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")
INSTEAD = {   # Keras callbacks that cannot run here, and what does their job in mlplab
    "TensorBoard": "it needs TensorFlow; mlplab writes TensorBoard itself: ml.fit(..., tensorboard=\"logs\")",
    "ProgbarLogger": "mlplab shows its own progress line (progress=True)",
    "BackupAndRestore": "every epoch is stored as it ends; a run cannot resume",
    "SwapEMAWeights": "mlplab's optimizers keep no moving average of the weights",
}


def batch_hooks(callback) -> list[str]:
    """The per-batch hooks a callback defines (its class's overrides, or a LambdaCallback's own)."""
    import keras
    base = keras.callbacks.Callback
    return [name for name in BATCH_HOOKS
            if getattr(type(callback), name) is not getattr(base, name) or name in vars(callback)]


def check_callbacks(callbacks) -> list:
    """The callbacks as a list, each a keras Callback that can run between epochs; else BadInput."""
    import keras
    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback) or not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    for cb in callbacks:
        name = type(cb).__name__
        if not isinstance(cb, keras.callbacks.Callback):
            raise BadInput(f"callbacks: {name} is not a keras.callbacks.Callback")
        if name in INSTEAD:
            raise BadInput(f"callbacks: {name} is not supported: {INSTEAD[name]}")
        if isinstance(cb, keras.callbacks.ModelCheckpoint) and cb.save_freq != "epoch":
            raise BadInput(f"callbacks: ModelCheckpoint(save_freq={cb.save_freq!r}) saves between batches; "
                           "mlplab's callbacks run between epochs: use save_freq=\"epoch\"")
        if not isinstance(cb, (keras.callbacks.ModelCheckpoint, keras.callbacks.TerminateOnNaN)) and batch_hooks(cb):
            raise BadInput(f"callbacks: {name} defines {', '.join(batch_hooks(cb))}; mlplab runs an epoch's "
                           "batches as one compiled program, so callbacks run between epochs only "
                           "(on_epoch_begin/on_epoch_end)")
    return list(callbacks)


def epoch_callbacks(callbacks) -> tuple[list, dict | None]:
    """(the callbacks the engine drives, the spec's early_stopping from an EarlyStopping or None).
    TerminateOnNaN goes: a run whose numbers become NaN stops anyway (status diverged)."""
    import keras
    callbacks = check_callbacks(callbacks)
    stoppers = [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
    if len(stoppers) > 1:
        raise BadInput("callbacks: more than one EarlyStopping; give one")
    rest = [c for c in callbacks if not isinstance(c, (keras.callbacks.EarlyStopping, keras.callbacks.TerminateOnNaN))]
    return rest, early_stopping_of(stoppers[0]) if stoppers else None


def early_stopping_of(callback) -> dict:
    """A keras EarlyStopping as the spec's train.early_stopping, or BadInput for what it cannot say."""
    from ..catalog import MONITORS
    if callback.monitor not in MONITORS:
        raise BadInput(f"callbacks: EarlyStopping(monitor={callback.monitor!r}): expected one of {', '.join(MONITORS)}")
    if callback.baseline is not None or callback.start_from_epoch:
        raise BadInput("callbacks: EarlyStopping's baseline and start_from_epoch are not supported; "
                       "leave them at their defaults")
    return {"monitor": callback.monitor, "patience": int(callback.patience),
            "min_delta": abs(float(callback.min_delta)), "restore_best": bool(callback.restore_best_weights)}


class KerasCallbacks(Callback):
    """engine.train's callbacks for a population of one: the Keras callbacks see the Keras model."""

    def __init__(self, callbacks: list, model, train, steps: int):
        import keras

        from ..engine.optimizers import keras_optimizer
        self.model, self.logs = model, {}
        model.compile(optimizer=keras_optimizer(train.optimizer.name, train.optimizer.settings()), loss=train.loss,
                      metrics=["accuracy"])
        model.stop_training = False
        self.scheduled = train.schedule is not None
        self.callbacks = keras.callbacks.CallbackList(callbacks, add_history=False, add_progbar=False, model=model,
                                                      verbose=0, epochs=train.epochs, steps=steps)

    def rate(self) -> float:
        import keras
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def begin(self) -> None:
        self.callbacks.on_train_begin()

    def learning_rates(self, epoch: int, rates: np.ndarray) -> np.ndarray:
        """on_epoch_begin (Keras counts epochs from 0); the optimizer's rate after it trains the epoch.
        A spec schedule sets the rate first; without one, the rate callbacks left is kept."""
        if self.scheduled or epoch == 1:
            self.model.optimizer.learning_rate = float(rates[0])
        self.callbacks.on_epoch_begin(epoch - 1)
        return np.array([self.rate()])

    def on_epoch_end(self, epoch: int, records: list, view) -> list[int] | None:
        from ..engine.models import set_weights
        if records[0] is None:
            return None
        set_weights(self.model, *view.weights(0))
        self.logs = {k: v for k, v in records[0].items() if k != "seconds"}
        self.callbacks.on_epoch_end(epoch - 1, self.logs)
        return [0] if self.model.stop_training else None

    def end(self) -> None:
        self.callbacks.on_train_end(self.logs)
