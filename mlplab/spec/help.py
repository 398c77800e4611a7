"""What an optimizer takes, in words (the notebook's `SGD?`): each parameter, Keras' default
(catalog.OPTIMIZERS) and what it does (catalog.OPTIMIZER_PARAMETERS). Read by `mlplab optimizers
[NAME]` and `ml.help(NAME)`; the spec's message for a key an optimizer does not take names the same
parameters.
"""
from __future__ import annotations

from typing import Any

from ..catalog import OPTIMIZER_CLASSES, OPTIMIZER_PARAMETERS, OPTIMIZERS
from ..errors import BadInput
from .messages import did_you_mean, show


def optimizer_keys(name: str) -> str:
    """ "learning_rate, momentum, nesterov": the parameters `name` takes, the learning rate first."""
    return ", ".join(["learning_rate", *sorted(set(OPTIMIZERS[name]) - {"learning_rate"})])


def optimizer_help(name: str) -> list[dict[str, Any]]:
    """One row per parameter of the optimizer `name`: parameter, default, description; BadInput
    (naming the optimizers) for a name the catalog does not know."""
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise BadInput(f"optimizer {show(name)}: unknown; {did_you_mean(key, list(OPTIMIZERS))}"
                       f"expected one of {', '.join(OPTIMIZERS)}")
    return [{"parameter": p, "default": d, "description": OPTIMIZER_PARAMETERS[p]} for p, d in OPTIMIZERS[key].items()]


def optimizer_text(name: str) -> str:
    """The optimizer's parameters as aligned lines, headed by its Keras class and how to set them."""
    rows = optimizer_help(name)
    key = str(name).lower()
    width = max(len(r["parameter"]) + len(show(r["default"])) for r in rows) + 4
    lines = [f"{key} (keras.optimizers.{OPTIMIZER_CLASSES[key]}): "
             f'train.optimizer = {{ name = "{key}", {rows[min(1, len(rows) - 1)]["parameter"]} = ... }}']
    lines += [f"  {(r['parameter'] + ' = ' + show(r['default'])).ljust(width)} {r['description']}" for r in rows]
    return "\n".join(lines)
