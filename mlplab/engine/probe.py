"""Cheap per-epoch statistics for the doctor, computed on device on a fixed probe batch.

Per weight matrix: its norm, the norm of the loss gradient on the probe batch,
and how far the epoch moved it relative to its size. Per activation layer
(Sequential models): the mean and spread of its outputs, the fraction of ReLU
units that never fire on the probe batch, the fraction of sigmoid/tanh outputs
in saturation.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import jax.numpy as jnp
import keras

PROBE_ROWS = 256
RELU_LIKE = ("relu", "leaky_relu", "elu", "gelu", "selu")
SATURATING = ("sigmoid", "tanh")


@dataclass(frozen=True)
class ActivationLayer:
    name: str
    kind: str            # relu, sigmoid, tanh, ...
    upto: int            # run model.layers[:upto] to get its output


def weight_names(model: keras.Model) -> list[str]:
    return [v.path for v in model.trainable_variables if len(v.shape) >= 2]


def _activation_name(layer: keras.layers.Layer) -> str | None:
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", None)
    return None if name in (None, "linear", "softmax") else name


def activation_layers(model: keras.Model) -> list[ActivationLayer]:
    """Hidden layers whose output goes through a nonlinearity (Sequential models only)."""
    if not isinstance(model, keras.Sequential):
        return []
    out = []
    for i, layer in enumerate(model.layers[:-1]):
        kind = _activation_name(layer)
        if kind:
            out.append(ActivationLayer(layer.name, kind, i + 1))
    return out


def describe(model: keras.Model) -> dict:
    return {"weights": weight_names(model),
            "layers": [{"name": a.name, "kind": a.kind} for a in activation_layers(model)]}


def make_probe(model: keras.Model, objective: Callable) -> Callable:
    """member_probe(trainable, non_trainable, previous, reg, x, y) -> dict of statistics arrays.

    `objective(trainable, non_trainable, reg, x, y)` is the inference-mode loss.
    """
    kernels = [i for i, v in enumerate(model.trainable_variables) if len(v.shape) >= 2]
    acts = activation_layers(model)
    index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    nt_index = {id(v): i for i, v in enumerate(model.non_trainable_variables)}

    def layer_outputs(trainable, non_trainable, x):
        outs, h = [], x
        for i, layer in enumerate(model.layers):
            tv = [trainable[index[id(v)]] for v in layer.trainable_variables]
            ntv = [non_trainable[nt_index[id(v)]] for v in layer.non_trainable_variables]
            kwargs = {"training": False} if "training" in inspect.signature(layer.call).parameters else {}
            h, _ = layer.stateless_call(tv, ntv, h, **kwargs)
            outs.append(h)
        return outs

    def norm(a):
        return jnp.sqrt(jnp.sum(jnp.square(a)))

    def member_probe(trainable, non_trainable, previous, reg, x, y):
        grads = jax.grad(objective)(trainable, non_trainable, reg, x, y)
        stats = {
            "weight_norm": jnp.stack([norm(trainable[i]) for i in kernels]),
            "grad_norm": jnp.stack([norm(grads[i]) for i in kernels]),
            "update_ratio": jnp.stack([norm(trainable[i] - previous[i]) / (norm(previous[i]) + 1e-12) for i in kernels]),
        }
        if acts:
            outs = layer_outputs(trainable, non_trainable, x)
            a = [outs[layer.upto - 1].reshape(x.shape[0], -1) for layer in acts]
            stats["activation_mean"] = jnp.stack([jnp.mean(h) for h in a])
            stats["activation_std"] = jnp.stack([jnp.std(h) for h in a])
            stats["dead_fraction"] = jnp.stack([
                jnp.mean(jnp.all(h <= 0, axis=0)) if layer.kind in RELU_LIKE else jnp.nan for h, layer in zip(a, acts)])
            stats["saturated_fraction"] = jnp.stack([
                jnp.mean((h < 0.01) | (h > 0.99)) if layer.kind == "sigmoid"
                else jnp.mean(jnp.abs(h) > 0.99) if layer.kind == "tanh" else jnp.nan
                for h, layer in zip(a, acts)])
        return stats

    return member_probe
