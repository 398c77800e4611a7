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

Matrix products. Even canonical, XLA's convolutions left the example's step at 2.6 s an epoch against
Keras on TensorFlow's 1.05 s (oneDNN). Written as one matrix product over patches (the input's shifted
slices side by side, im2col), and rewritten so in the forward pass before it is differentiated (with the
tiling max pools as one-hot products of the first maximum), the backward pass is made of products, slices
and pads, and reuses the forward patches: 1.4 s an epoch, the same numbers within float tolerance.

`for_xla_cpu(fn)` returns `fn` with the rewrites applied to its traced program (calls inlined); `fn`
itself when none applies. `forward_for_xla_cpu(fn)` does the same to a forward pass before it is
differentiated (engine.member_math's training call).
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
GEMM_PATCHES = 64 * 2**20   # values (256 MiB of float32) of patches a convolution may gather for its product


def _canonical(lhs, rhs, *, dimension_numbers, **params):
    """One convolution in the canonical form: transposes in, the convolution as one matrix product (`_as_gemm`)
    or the canonical convolution, a transpose out."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    if params.get("batch_group_count", 1) != 1:  # Eigen has no batch groups: leave it to XLA
        return _CONV.bind(lhs, rhs, dimension_numbers=dimension_numbers, **params)
    nd = len(lhs_spec)
    features_last = (0, nd - 1, *range(1, nd - 1))
    canonical = lax.ConvDimensionNumbers(features_last, (nd - 1, nd - 2, *range(nd - 2)), features_last)
    lhs = lax.transpose(lhs, (lhs_spec[0], *lhs_spec[2:], lhs_spec[1]))
    rhs = lax.transpose(rhs, (*rhs_spec[2:], rhs_spec[1], rhs_spec[0]))
    out = _as_gemm(lhs, rhs, **params)
    if out is None:
        out = _CONV.bind(lhs, rhs, dimension_numbers=canonical, **params)
    return lax.transpose(out, tuple(int(i) for i in np.argsort((out_spec[0], *out_spec[2:], out_spec[1]))))


def _as_gemm(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, feature_group_count, precision=None,
             preferred_element_type=None, **_):
    """A canonical convolution (lhs: batch, spatial..., in; rhs: spatial..., in, out) as one matrix product over
    patches: the input's shifted slices side by side, times the kernel as a matrix. The patches are gathered by
    whichever is fewer, the kernel's positions (the usual im2col) or the output's (a kernel gradient, whose
    "kernel" spans the image), so the product's inner dimension holds the rest. None when it does not apply
    (dilated inputs, groups, more than two spatial dimensions) or the patches would exceed GEMM_PATCHES values.
    The same sums as the convolution, in another order."""
    if feature_group_count != 1 or any(d != 1 for d in lhs_dilation) or lhs.ndim != 4 or isinstance(padding, str):
        return None
    x = lax.pad(lhs, jnp.zeros((), lhs.dtype), [(0, 0, 0), *[(lo, hi, 0) for lo, hi in padding], (0, 0, 0)])
    (n, h, w, i), (kh, kw, _, o) = x.shape, rhs.shape
    (sh, sw), (dh, dw) = window_strides, rhs_dilation
    oh, ow = (h - (kh - 1) * dh - 1) // sh + 1, (w - (kw - 1) * dw - 1) // sw + 1
    if oh <= 0 or ow <= 0 or n * oh * ow * kh * kw * i > GEMM_PATCHES:
        return None
    dtype = preferred_element_type or jnp.result_type(lhs, rhs)
    if kh * kw <= oh * ow:   # one slice per kernel position, each the size of the output
        cols = [lax.slice(x, (0, a * dh, b * dw, 0), (n, a * dh + (oh - 1) * sh + 1, b * dw + (ow - 1) * sw + 1, i),
                          (1, sh, sw, 1)) for a in range(kh) for b in range(kw)]
        patches = jnp.concatenate(cols, axis=-1).reshape(n * oh * ow, kh * kw * i)
    else:   # one window per output position, each the size of the kernel
        cols = [lax.slice(x, (0, p * sh, q * sw, 0), (n, p * sh + (kh - 1) * dh + 1, q * sw + (kw - 1) * dw + 1, i),
                          (1, dh, dw, 1)) for p in range(oh) for q in range(ow)]
        patches = jnp.stack(cols, axis=1).reshape(n * oh * ow, kh * kw * i)
    out = lax.dot(patches, rhs.reshape(kh * kw * i, o), precision=precision, preferred_element_type=dtype)
    return out.reshape(n, oh, ow, o)


def _tiles(window: tuple, strides: tuple, padding: tuple) -> bool:
    return tuple(window) == tuple(strides) and all(lo == hi == 0 for lo, hi in padding)


def _windows(operand, window: tuple, counts: tuple):
    """The operand's whole windows as (windows..., positions in a window) and the axis order that made them;
    rows beyond the last whole window are left out."""
    nd = operand.ndim
    covered = tuple(c * w for c, w in zip(counts, window))
    tiles = operand[tuple(slice(0, c) for c in covered)].reshape([v for c, w in zip(counts, window) for v in (c, w)])
    order = (*range(0, 2 * nd, 2), *range(1, 2 * nd, 2))
    return tiles.transpose(order).reshape(*counts, -1), order, covered


def _scatter_to_first(source, operand, *, select_prim, window_dimensions, window_strides, padding):
    """select_and_scatter_add for windows that tile the operand: each window's `source` value goes to its
    first element that wins `select_prim` (the first maximum for max pooling), the rest get 0."""
    if select_prim not in _FIRST or not _tiles(window_dimensions, window_strides, padding):
        return _SCATTER.bind(source, operand, select_prim=select_prim, window_dimensions=window_dimensions,
                             window_strides=window_strides, padding=padding)
    counts, window = source.shape, tuple(window_dimensions)
    tiles, order, covered = _windows(operand, window, counts)
    first = _FIRST[select_prim](tiles, axis=-1)
    spread = (jnp.arange(tiles.shape[-1]) == first[..., None]).astype(source.dtype) * source[..., None]
    spread = spread.reshape(*counts, *window).transpose(tuple(int(i) for i in np.argsort(order))).reshape(covered)
    return lax.pad(spread, jnp.zeros((), source.dtype), [(0, n - c, 0) for n, c in zip(operand.shape, covered)])


def _first_of_windows(operand, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    """A max pool whose windows tile the operand, as each window's first maximum picked by a one-hot product:
    its gradient goes to that element (Keras' and XLA's select_and_scatter_add, ties included) through a
    product, not a scatter. None for other pools."""
    if (not _tiles(window_dimensions, window_strides, padding)
            or any(d != 1 for d in (*base_dilation, *window_dilation))):
        return None
    window = tuple(window_dimensions)
    tiles, _, _ = _windows(operand, window, tuple(n // w for n, w in zip(operand.shape, window)))
    first = jax.lax.stop_gradient(jnp.argmax(tiles, axis=-1))
    pick = (jnp.arange(tiles.shape[-1]) == first[..., None]).astype(operand.dtype)
    return jnp.sum(tiles * pick, axis=-1)


def _or_bind(primitive, rewrite):
    def apply(values, params):
        out = rewrite(*values, **params)
        return primitive.bind(*values, **params) if out is None else out
    return apply


# rewrites of the step (forward and backward as traced): convolutions in the canonical form or as one matrix
# product, max-pool gradients as one-hot products
_CONV_REWRITE = {_CONV: lambda values, params: _canonical(*values, **params)}
_REWRITES = {**_CONV_REWRITE, _SCATTER: lambda values, params: _scatter_to_first(*values, **params)}
# rewrites of the forward pass, before differentiation: its convolutions as matrix products and its tiling
# max pools as one-hot products, so the gradients are products, slices and pads too (no convolution, no
# select_and_scatter_add), and the backward pass reuses the forward patches
_FORWARD = {**_CONV_REWRITE, lax.reduce_window_max_p: _or_bind(lax.reduce_window_max_p, _first_of_windows)}


def _sub_jaxpr(eqn):
    """The body of an inlinable call, as a ClosedJaxpr, or None."""
    if eqn.primitive.name not in _CALLS:
        return None
    sub = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
    if sub is None:
        return None
    return sub if isinstance(sub, jcore.ClosedJaxpr) else jcore.ClosedJaxpr(sub, ())


def rewritable(jaxpr, rewrites: dict = _REWRITES) -> bool:
    """Does this jaxpr (or a call inside it) hold an operation `rewrites` rewrites?"""
    for eqn in jaxpr.eqns:
        if eqn.primitive in rewrites:
            return True
        sub = _sub_jaxpr(eqn)
        if sub is not None and rewritable(sub.jaxpr, rewrites):
            return True
    return False


def _evaluate(jaxpr, consts, *args, rewrites: dict = _REWRITES) -> list:
    """jax.core.eval_jaxpr, with the rewrites applied (calls that hold one inlined)."""
    env: dict = {}

    def read(v):
        return v.val if isinstance(v, jcore.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        sub = _sub_jaxpr(eqn)
        if eqn.primitive in rewrites:
            outs = [rewrites[eqn.primitive](values, eqn.params)]
        elif sub is not None and rewritable(sub.jaxpr, rewrites):
            outs = _evaluate(sub.jaxpr, sub.consts, *values, rewrites=rewrites)
        else:
            outs = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(eqn.params))
            outs = outs if eqn.primitive.multiple_results else [outs]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def for_xla_cpu(fn: Callable, rewrites: dict = _REWRITES) -> Callable:
    """`fn` (pure, traceable) with its convolutions and max-pool gradients rewritten (loops inside `fn`
    are left as they are); `fn` itself when it has neither. Traced anew for each call's shapes: use it
    inside jit. `forward_for_xla_cpu` is the same for a forward pass, before it is differentiated."""
    def wrapped(*args):
        flat, tree = jax.tree.flatten(args)
        shapes = [jax.ShapeDtypeStruct(np.shape(a), jax.numpy.result_type(a)) for a in flat]
        closed, out_shape = jax.make_jaxpr(lambda *leaves: fn(*jax.tree.unflatten(tree, leaves)),
                                           return_shape=True)(*shapes)
        if not rewritable(closed.jaxpr, rewrites):
            return fn(*args)
        return jax.tree.unflatten(jax.tree.structure(out_shape),
                                  _evaluate(closed.jaxpr, closed.consts, *flat, rewrites=rewrites))
    return wrapped


def forward_for_xla_cpu(fn: Callable) -> Callable:
    """A forward pass `fn` with its convolutions as matrix products over patches and its tiling max pools
    as one-hot products (`_FORWARD`), to be differentiated afterwards."""
    return for_xla_cpu(fn, _FORWARD)
