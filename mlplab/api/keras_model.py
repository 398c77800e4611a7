"""What `ml.fit` takes from a user's Keras model, honoured or refused before training: its compile
settings (optimizer with its schedule, clipping and weight decay; loss; metrics) and whether it fits
the data (one probability output of the data's classes, the data's input shape).

Every refusal is one line naming the feature and what to do instead.
"""
from __future__ import annotations

from typing import Any

from ..catalog import LOSSES
from ..errors import BadInput

KERAS_OPTIMIZERS = {"SGD": "sgd", "Adam": "adam", "AdamW": "adamw", "RMSprop": "rmsprop", "Adagrad": "adagrad"}
CLIPS = ("clipnorm", "global_clipnorm", "clipvalue")
REFUSED_OPTIONS = {   # optimizer options the engine does not run, and why they matter
    "use_ema": "a moving average of the weights",
    "loss_scale_factor": "loss scaling",
    "gradient_accumulation_steps": "gradient accumulation",
}
LOSS_CLASSES = {"SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
                "CategoricalCrossentropy": "categorical_crossentropy",
                "BinaryCrossentropy": "binary_crossentropy", "MeanSquaredError": "mse"}
ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")


def compile_settings(model) -> dict:
    """What `model.compile(...)` set: {"optimizer": ..., "loss": ..., "metrics": [...]}, {} if never compiled."""
    if not getattr(model, "compiled", False):
        return {}
    metrics = getattr(getattr(model, "_compile_metrics", None), "_user_metrics", None) or []
    return {"optimizer": getattr(model, "optimizer", None), "loss": getattr(model, "loss", None),
            "metrics": list(metrics if isinstance(metrics, (list, tuple)) else [metrics])}


def optimizer_of(optimizer: Any, learning_rate: float | None):
    """(the spec's optimizer table, engine.program.StepRules or None, whether the table says it all) of
    "adam", {"name": "sgd", "momentum": 0.9} or a keras optimizer instance."""
    if isinstance(optimizer, str):
        spec, rules, exact = {"name": optimizer.lower()}, None, True
    elif isinstance(optimizer, dict):
        spec, rules, exact = dict(optimizer), None, True
    else:
        spec, rules = _keras_optimizer(optimizer)
        exact = rules is None
    if learning_rate is not None:
        spec["learning_rate"] = learning_rate
    return spec, rules, exact


def _keras_optimizer(optimizer) -> tuple[dict, Any]:
    import keras

    from ..engine.optimizers import defaults
    from ..engine.program import StepRules
    name = type(optimizer).__name__
    kind = KERAS_OPTIMIZERS.get(name)
    if kind is None:
        raise BadInput(f"optimizer {name}: mlplab's engine trains with {', '.join(KERAS_OPTIMIZERS)} "
                       "(as names or keras instances); compile or pass one of them")
    cfg = optimizer.get_config()
    for option, what in REFUSED_OPTIONS.items():
        if cfg.get(option):
            raise BadInput(f"optimizer {name}({option}={cfg[option]!r}): {what} is not supported by mlplab's engine; "
                           f"leave {option} at its default")
    spec = {"name": kind, **{k: cfg[k] for k in defaults(kind) if k in cfg and not isinstance(cfg[k], dict)}}
    schedule = None if isinstance(cfg.get("learning_rate"), (int, float)) else \
        keras.optimizers.schedules.deserialize(cfg["learning_rate"])
    if schedule is not None:   # the spec shows the rate it starts with; the schedule runs step by step
        spec["learning_rate"] = float(schedule(0))
    clips = [(k, float(cfg[k])) for k in CLIPS if cfg.get(k)]
    decay = cfg.get("weight_decay") if kind != "adamw" else None
    if not (schedule or clips or decay):
        return spec, None
    return spec, StepRules(schedule=schedule, clip=clips[0] if clips else None,
                           weight_decay=float(decay) if decay else None)


def loss_of(loss: Any) -> str:
    """A compiled loss as one of mlplab's losses (which take probabilities), or BadInput."""
    if isinstance(loss, str) and loss in LOSSES:
        return loss
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    name = LOSS_CLASSES.get(type(loss).__name__)
    if config.get("from_logits"):
        raise BadInput(f"loss {type(loss).__name__}(from_logits=True): mlplab's losses take probabilities; end the "
                       "model with activation=\"softmax\" and compile with from_logits=False")
    if name is None:
        raise BadInput(f"loss {loss!r}: mlplab trains with {', '.join(LOSSES)}")
    return name


def check_metrics(metrics: list) -> None:
    """mlplab records the loss and accuracy of every epoch; a compiled metric it would not record is refused."""
    for metric in metrics:
        name = metric if isinstance(metric, str) else getattr(metric, "name", type(metric).__name__)
        if str(name).lower() not in ACCURACY:
            raise BadInput(f"model.compile(metrics=[{name!r}]): mlplab records each epoch's loss and accuracy only; "
                           "remove it (the run's predictions give any other metric: run.predictions())")


def check_fits(model, input_shape: tuple[int, ...], num_classes: int, loss: str) -> None:
    """One output of the data's classes, taking the data's rows: else BadInput before anything trains
    (an unbuilt model is built for the data's rows, as Keras' fit builds it)."""
    import numpy as np
    wanted = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if wanted is not None and None not in wanted and wanted != tuple(input_shape):
        raise BadInput(f"model input: built for rows of shape {wanted}, the data's rows are {tuple(input_shape)}; "
                       f"build it with keras.Input({tuple(input_shape)})")
    if not model.built:
        model.build((None, *input_shape))
    out = model(np.zeros((1, *input_shape), "float32"), training=False)
    if isinstance(out, (list, tuple, dict)):
        raise BadInput(f"model: {len(out)} outputs; mlplab trains a classifier with one output "
                       f"({num_classes} softmax units)")
    units, expected = int(out.shape[-1]), 1 if loss == "binary_crossentropy" else num_classes
    if units != expected:
        raise BadInput(f"model output: {units} units, the data has {num_classes} classes; end the model with "
                       f"Dense({expected}, activation=\"{'sigmoid' if expected == 1 else 'softmax'}\")")
