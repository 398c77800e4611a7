"""A training step rewritten for XLA's CPU compiler: the same numbers, in forms it runs fast.

Profiled on 2 cores (bench/cnn.py, examples/cnn-mnist.toml), two kinds of operation
made a conv net's step slow, the first only inside loops:

Convolutions. XLA's CPU compiler hands a convolution to its fast library kernels (Eigen) only in the
canonical form: input (batch, spatial..., features), kernel (spatial..., in, out),
output (batch, spatial..., features). Its pass that rewrites other forms into that one
visits only the program's top level, not the bodies of loops. A training step's
backward pass is made of convolutions in other forms (the kernel gradient treats the
batch as the feature axis), so inside `lax.scan` or `lax.fori_loop` they fall back to
a naive loop nest: measured on 2 cores, the example CNN's epoch took 22 s scanned
against 5 s as separate per-step calls.

Rewritten: every convolution in the canonical form by explicit transposes, which XLA keeps.

Max-pool gradients. The gradient of a max pool (`select_and_scatter_add`: each window's
gradient goes to its first maximal element) took 93 ms of CPU per batch of 128 after the example's
first conv, 38x its forward pass and about 40 % of the whole step, in loops or not. Rewritten, for windows that
tile the input (stride = window, no padding: Keras' default pooling), as a reshape into
windows, the first maximum's position (argmax) and a one-hot product: 14 ms, the same numbers
(ties included). With both, the example's step takes 120 ms of CPU instead of 230-270 ms.

`for_xla_cpu(fn)` returns `fn` with both rewrites applied to its traced program (calls
inlined); `fn` itself when neither applies.
"""
from __future__ import annotations

from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core as jcore

_CONV = lax.conv_general_dilated_p
_SCATTER = lax.select_and_scatter_add_p
_FIRST = {lax.ge_p: jnp.argmax, lax.le_p: jnp.argmin}  # XLA keeps the first element that wins `select`
_CALLS = ("pjit", "jit", "closed_call", "core_call")  # calls whose body can be inlined as it is


def _canonical(lhs, rhs, *, dimension_numbers, **params):
    """One convolution in the canonical form: transposes in, the canonical convolution, a transpose out."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    if params.get("batch_group_count", 1) != 1:  # Eigen has no batch groups: leave it to XLA
        return _CONV.bind(lhs, rhs, dimension_numbers=dimension_numbers, **params)
    nd = len(lhs_spec)
    features_last = (0, nd - 1, *range(1, nd - 1))
    canonical = lax.ConvDimensionNumbers(features_last, (nd - 1, nd - 2, *range(nd - 2)), features_last)
    lhs = lax.transpose(lhs, (lhs_spec[0], *lhs_spec[2:], lhs_spec[1]))
    rhs = lax.transpose(rhs, (*rhs_spec[2:], rhs_spec[1], rhs_spec[0]))
    out = _CONV.bind(lhs, rhs, dimension_numbers=canonical, **params)
    return lax.transpose(out, tuple(int(i) for i in np.argsort((out_spec[0], *out_spec[2:], out_spec[1]))))


def _tiles(window: tuple, strides: tuple, padding: tuple) -> bool:
    return tuple(window) == tuple(strides) and all(lo == hi == 0 for lo, hi in padding)


def _scatter_to_first(source, operand, *, select_prim, window_dimensions, window_strides, padding):
    """select_and_scatter_add for windows that tile the operand: each window's `source` value goes to its
    first element that wins `select_prim` (the first maximum for max pooling), the rest get 0."""
    if select_prim not in _FIRST or not _tiles(window_dimensions, window_strides, padding):
        return _SCATTER.bind(source, operand, select_prim=select_prim, window_dimensions=window_dimensions,
                             window_strides=window_strides, padding=padding)
    counts, window, nd = source.shape, tuple(window_dimensions), operand.ndim
    covered = tuple(c * w for c, w in zip(counts, window))  # rows beyond the last whole window get nothing
    tiles = operand[tuple(slice(0, c) for c in covered)].reshape([v for c, w in zip(counts, window) for v in (c, w)])
    order = (*range(0, 2 * nd, 2), *range(1, 2 * nd, 2))  # (windows..., positions in a window...)
    first = _FIRST[select_prim](tiles.transpose(order).reshape(*counts, -1), axis=-1)
    size = int(np.prod(window))
    spread = (jnp.arange(size) == first[..., None]).astype(source.dtype) * source[..., None]
    spread = spread.reshape(*counts, *window).transpose(tuple(int(i) for i in np.argsort(order))).reshape(covered)
    return lax.pad(spread, jnp.zeros((), source.dtype), [(0, n - c, 0) for n, c in zip(operand.shape, covered)])


_REWRITES = {_CONV: lambda values, params: _canonical(*values, **params),
             _SCATTER: lambda values, params: _scatter_to_first(*values, **params)}


def _sub_jaxpr(eqn):
    """The body of an inlinable call, as a ClosedJaxpr, or None."""
    if eqn.primitive.name not in _CALLS:
        return None
    sub = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
    if sub is None:
        return None
    return sub if isinstance(sub, jcore.ClosedJaxpr) else jcore.ClosedJaxpr(sub, ())


def rewritable(jaxpr) -> bool:
    """Does this jaxpr (or a call inside it) hold an operation `for_xla_cpu` rewrites?"""
    for eqn in jaxpr.eqns:
        if eqn.primitive in _REWRITES:
            return True
        sub = _sub_jaxpr(eqn)
        if sub is not None and rewritable(sub.jaxpr):
            return True
    return False


def _evaluate(jaxpr, consts, *args) -> list:
    """jax.core.eval_jaxpr, with the rewrites applied (calls that hold one inlined)."""
    env: dict = {}

    def read(v):
        return v.val if isinstance(v, jcore.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        sub = _sub_jaxpr(eqn)
        if eqn.primitive in _REWRITES:
            outs = [_REWRITES[eqn.primitive](values, eqn.params)]
        elif sub is not None and rewritable(sub.jaxpr):
            outs = _evaluate(sub.jaxpr, sub.consts, *values)
        else:
            outs = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(eqn.params))
            outs = outs if eqn.primitive.multiple_results else [outs]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def for_xla_cpu(fn: Callable) -> Callable:
    """`fn` (pure, traceable) with its convolutions and max-pool gradients rewritten (loops inside `fn`
    are left as they are); `fn` itself when it has neither. Traced anew for each call's shapes: use it
    inside jit."""
    def wrapped(*args):
        flat, tree = jax.tree.flatten(args)
        shapes = [jax.ShapeDtypeStruct(np.shape(a), jax.numpy.result_type(a)) for a in flat]
        closed, out_shape = jax.make_jaxpr(lambda *leaves: fn(*jax.tree.unflatten(tree, leaves)),
                                           return_shape=True)(*shapes)
        if not rewritable(closed.jaxpr):
            return fn(*args)
        return jax.tree.unflatten(jax.tree.structure(out_shape), _evaluate(closed.jaxpr, closed.consts, *flat))
    return wrapped
