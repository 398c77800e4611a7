"""Keras conformance: a model a student or practitioner writes, trained by `ml.fit` and by `model.fit`
from the same weights on the same batches (shuffling off), ends with the same weights; or `ml.fit`
refuses it before training with one line naming the feature. Nothing in between.

Each case is a small model on 8x8 digits (160 rows, batch 32: 5 steps an epoch, 2 epochs), its compile
settings, and what mlplab must do with it: "honour" or "refuse" (with words the refusal must contain).
The table of every case (honoured / refused, the largest weight difference) is printed (-s shows it).
"""
from __future__ import annotations

import numpy as np
import pytest

import mlplab as ml
import keras
from keras import layers as L

from mlplab.errors import BadInput

pytestmark = pytest.mark.slow

ROWS, BATCH, EPOCHS = 160, 32, 2
TOLERANCE = 2e-4   # the largest weight difference, relative to the weight's size (float32 rounding over 10 steps)


def digits():
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:ROWS], y[:ROWS].astype("int32"), x[ROWS:ROWS + 100], y[ROWS:ROWS + 100].astype("int32")


def dense(*hidden, **kw):
    return keras.Sequential([keras.Input((64,)), *hidden, L.Dense(10, activation="softmax", **kw)])


def image(*body):
    return keras.Sequential([keras.Input((64,)), L.Reshape((8, 8, 1)), *body, L.Flatten(),
                             L.Dense(10, activation="softmax")])


def functional_skip():
    x = keras.Input((64,))
    h = L.Dense(32, activation="relu")(x)
    h2 = L.Dense(32, activation="relu")(h)
    return keras.Model(x, L.Dense(10, activation="softmax")(L.Add()([h, h2])))


def functional_concat():
    x = keras.Input((64,))
    a, b = L.Dense(16, activation="relu")(x), L.Dense(16, activation="tanh")(x)
    return keras.Model(x, L.Dense(10, activation="softmax")(L.Concatenate()([a, b])))


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden, self.out = L.Dense(32, activation="relu"), L.Dense(10, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.hidden(x))


class Scaled(L.Layer):
    """A custom layer with its own weight."""
    def build(self, shape):
        self.scale = self.add_weight(shape=(shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.scale


def built(model):
    model(np.zeros((1, 64), "float32"))
    return model


def compiled(model, optimizer="adam", loss="sparse_categorical_crossentropy", **kw):
    model.compile(optimizer=optimizer, loss=loss, **kw)
    return model


O = keras.optimizers
S = O.schedules
# (name, a function making the model, ml.fit's keyword arguments, "honour" or the words its refusal contains)
CASES = [
    ("dense relu, adam", lambda: dense(L.Dense(32, activation="relu")), {}, "honour"),
    ("dense tanh, sgd nesterov", lambda: dense(L.Dense(32, activation="tanh")),
     {"optimizer": O.SGD(0.1, momentum=0.9, nesterov=True)}, "honour"),
    ("dropout", lambda: dense(L.Dense(32, activation="relu"), L.Dropout(0.3)), {}, "honour"),
    ("batch-norm", lambda: dense(L.Dense(32), L.BatchNormalization(), L.Activation("relu")), {}, "honour"),
    ("L2 kernel", lambda: dense(L.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01))),
     {}, "honour"),
    ("L1 kernel + L2 bias", lambda: dense(L.Dense(32, activation="relu", kernel_regularizer="l1",
                                                  bias_regularizer=keras.regularizers.L2(0.01))), {}, "honour"),
    ("activity regularizer", lambda: dense(L.Dense(32, activation="relu",
                                                   activity_regularizer=keras.regularizers.L2(0.01))), {}, "honour"),
    ("MaxNorm constraint", lambda: dense(L.Dense(32, activation="relu",
                                                 kernel_constraint=keras.constraints.MaxNorm(0.5))),
     {"optimizer": O.SGD(0.5)}, "honour"),
    ("NonNeg + UnitNorm", lambda: dense(L.Dense(32, activation="relu", kernel_constraint="non_neg"),
                                        kernel_constraint=keras.constraints.UnitNorm()), {}, "honour"),
    ("LayerNormalization", lambda: dense(L.Dense(32), L.LayerNormalization(), L.Activation("gelu")), {}, "honour"),
    ("GaussianNoise", lambda: dense(L.GaussianNoise(0.1), L.Dense(32, activation="relu")), {}, "honour"),
    ("LeakyReLU, PReLU layers", lambda: dense(L.Dense(32), L.LeakyReLU(0.1), L.Dense(16), L.PReLU()), {}, "honour"),
    ("Rescaling", lambda: dense(L.Rescaling(2.0, offset=-1.0), L.Dense(32, activation="relu")), {}, "honour"),
    ("Reshape, Conv2D, MaxPooling2D", lambda: image(L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D()), {}, "honour"),
    ("Conv2D same, strides 2", lambda: image(L.Conv2D(4, 3, strides=2, padding="same", activation="relu")), {},
     "honour"),
    ("SeparableConv2D", lambda: image(L.SeparableConv2D(4, 3, activation="relu")), {}, "honour"),
    ("AveragePooling2D", lambda: image(L.Conv2D(4, 3, activation="relu"), L.AveragePooling2D(2)), {}, "honour"),
    ("GlobalAveragePooling2D", lambda: keras.Sequential([
        keras.Input((64,)), L.Reshape((8, 8, 1)), L.Conv2D(8, 3, activation="relu"), L.GlobalAveragePooling2D(),
        L.Dense(10, activation="softmax")]), {}, "honour"),
    ("functional MLP", lambda: keras.Model(inp := keras.Input((64,)), L.Dense(10, activation="softmax")(
        L.Dense(32, activation="relu")(inp))), {}, "honour"),
    ("functional skip (Add)", functional_skip, {}, "honour"),
    ("functional Concatenate", functional_concat, {}, "honour"),
    ("subclassed, built", lambda: built(Subclassed()), {}, "honour"),
    ("subclassed, not built", Subclassed, {}, "honour"),
    ("custom layer", lambda: dense(L.Dense(32, activation="relu"), Scaled()), {}, "honour"),
    ("compiled Adam(0.01)", lambda: compiled(dense(L.Dense(32, activation="relu")), O.Adam(0.01)), {}, "honour"),
    ("compiled SGD + ExponentialDecay", lambda: compiled(dense(L.Dense(32, activation="relu")),
                                                         O.SGD(S.ExponentialDecay(0.1, 3, 0.5))), {}, "honour"),
    ("compiled Adam + CosineDecay", lambda: compiled(dense(L.Dense(32, activation="relu")),
                                                     O.Adam(S.CosineDecay(0.01, 10))), {}, "honour"),
    ("compiled RMSprop centered", lambda: compiled(dense(L.Dense(32, activation="relu")),
                                                   O.RMSprop(0.01, centered=True, momentum=0.5)), {}, "honour"),
    ("compiled Adagrad", lambda: compiled(dense(L.Dense(32, activation="relu")), O.Adagrad(0.1)), {}, "honour"),
    ("compiled AdamW", lambda: compiled(dense(L.Dense(32, activation="relu")), O.AdamW(0.01, weight_decay=0.1)),
     {}, "honour"),
    ("SGD weight_decay", lambda: dense(L.Dense(32, activation="relu")), {"optimizer": O.SGD(0.1, weight_decay=0.1)},
     "honour"),
    ("Adam clipnorm", lambda: dense(L.Dense(32, activation="relu")), {"optimizer": O.Adam(0.01, clipnorm=0.1)},
     "honour"),
    ("Adam global_clipnorm", lambda: dense(L.Dense(32, activation="relu")),
     {"optimizer": O.Adam(0.01, global_clipnorm=0.1)}, "honour"),
    ("SGD clipvalue", lambda: dense(L.Dense(32, activation="relu")), {"optimizer": O.SGD(0.5, clipvalue=0.01)},
     "honour"),
    ("Adam amsgrad", lambda: dense(L.Dense(32, activation="relu")), {"optimizer": O.Adam(0.01, amsgrad=True)},
     "honour"),
    ("SGD momentum + PiecewiseConstantDecay", lambda: dense(L.Dense(32, activation="relu")),
     {"optimizer": O.SGD(S.PiecewiseConstantDecay([3, 6], [0.1, 0.05, 0.01]), momentum=0.9)}, "honour"),
    ("RMSprop + InverseTimeDecay", lambda: compiled(dense(L.Dense(32, activation="relu")),
                                                    O.RMSprop(S.InverseTimeDecay(0.01, 2, 0.5))), {}, "honour"),
    ("Adagrad + PolynomialDecay", lambda: compiled(dense(L.Dense(32, activation="relu")),
                                                   O.Adagrad(S.PolynomialDecay(0.1, 10, 0.01))), {}, "honour"),
    ("conv kernel regularizer, bias constraint", lambda: image(
        L.Conv2D(4, 3, activation="relu", kernel_regularizer="l2", bias_constraint=keras.constraints.MaxNorm(0.01)),
        L.MaxPooling2D()), {}, "honour"),
    ("DepthwiseConv2D, dilation", lambda: image(L.DepthwiseConv2D(3, activation="relu"),
                                                 L.Conv2D(4, 2, dilation_rate=2, activation="relu")), {}, "honour"),
    ("initializers orthogonal, he_normal", lambda: dense(
        L.Dense(32, activation="relu", kernel_initializer="orthogonal"), kernel_initializer="he_normal"), {},
     "honour"),
    ("compiled categorical_crossentropy", lambda: compiled(dense(L.Dense(32, activation="relu")),
                                                           loss="categorical_crossentropy"), {}, "honour"),
    ("compiled metrics accuracy", lambda: compiled(dense(L.Dense(32, activation="relu")), metrics=["accuracy"]),
     {}, "honour"),
    ("Adam use_ema", lambda: dense(L.Dense(32, activation="relu")), {"optimizer": O.Adam(use_ema=True)}, "use_ema"),
    ("Nadam", lambda: dense(L.Dense(32, activation="relu")), {"optimizer": O.Nadam()}, "Nadam"),
    ("compiled Nadam", lambda: compiled(dense(L.Dense(32, activation="relu")), O.Nadam()), {}, "Nadam"),
    ("compiled loss from_logits", lambda: compiled(
        keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(10)]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), {}, "from_logits"),
    ("compiled metric top-3", lambda: compiled(dense(L.Dense(32, activation="relu")),
                                               metrics=[keras.metrics.SparseTopKCategoricalAccuracy(3)]), {}, "metrics"),
    ("softmax of 3 units on 10 classes", lambda: keras.Sequential([
        keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(3, activation="softmax")]), {}, "3 units"),
    ("built for 784 inputs", lambda: keras.Sequential([
        keras.Input((784,)), L.Dense(32, activation="relu"), L.Dense(10, activation="softmax")]), {}, "784"),
    ("logits output", lambda: keras.Sequential([keras.Input((64,)), L.Dense(10)]), {}, "softmax"),
    ("two outputs", lambda: keras.Model(inp := keras.Input((64,)), [L.Dense(10, activation="softmax")(inp),
                                                                     L.Dense(10, activation="softmax")(inp)]),
     {}, "output"),
]

ONE_HOT_LOSSES = ("categorical_crossentropy", "CategoricalCrossentropy")


def keras_side(make, kwargs: dict, weights: list, data) -> keras.Model:
    """The same model trained by Keras' own fit from the same weights, shuffling off."""
    x, y, _, _ = data
    keras.utils.set_random_seed(0)
    model = make()
    if not model.built:
        model(x[:1])
    model.set_weights(weights)
    if getattr(model, "optimizer", None) is None:
        optimizer = kwargs.get("optimizer", "adam")
        optimizer = optimizer if isinstance(optimizer, str) else optimizer.from_config(optimizer.get_config())
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    loss = model.loss if isinstance(model.loss, str) else type(model.loss).__name__
    target = keras.utils.to_categorical(y, 10) if loss in ONE_HOT_LOSSES else y
    model.fit(x, target, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return model


def conform(case, tmp_path, data):
    """("honoured" and the largest relative weight difference) or ("refused" and its message)."""
    name, make, kwargs, _ = case
    keras.utils.set_random_seed(0)
    model = make()
    start = [w.copy() for w in built(model).get_weights()] if not model.built else [w.copy() for w in model.get_weights()]
    try:
        run = ml.fit(model, data, epochs=EPOCHS, batch_size=BATCH, shuffle=False, validation_split=0.0,
                     early_stopping=False, progress=False, store=tmp_path / "store", **kwargs)
    except BadInput as e:
        return "refused", str(e)
    except Exception as e:   # neither honoured nor refused: what the table must never show
        return "crashed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    try:
        theirs = keras_side(make, kwargs, start, data)
    except Exception as e:
        return "trained", f"(Keras itself cannot: {type(e).__name__})"
    diffs = [np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))
             for a, b in zip(run.model.get_weights(), theirs.get_weights())]
    return "honoured", max(diffs)


def test_every_keras_model_trains_as_keras_would_or_is_refused_before_training(tmp_path):
    data = digits()
    rows, wrong = [], []
    for case in CASES:
        name, _, _, expected = case
        print(name, flush=True)
        kind, detail = conform(case, tmp_path, data)
        shown = f"{detail:.1e}" if kind == "honoured" else detail[:100]
        rows.append(f"{name:<40} {kind:<9} {shown}")
        if expected == "honour" and not (kind == "honoured" and detail <= TOLERANCE):
            wrong.append(f"{name}: {kind} {shown}")
        if expected != "honour" and not (kind == "refused" and expected in detail and "\n" not in detail):
            wrong.append(f"{name}: expected a one-line refusal naming {expected!r}, got {kind} {shown}")
    print("\n" + "\n".join([f"{'model':<40} {'ml.fit':<9} max weight difference / refusal", *rows]))
    print(f"{len(CASES)} cases, {len(wrong)} not as expected")
    assert wrong == []


@pytest.mark.parametrize("make, exact", [
    (lambda: dense(L.Dense(32, activation="relu")), True),
    (lambda: dense(L.Dense(32, activation="relu", kernel_constraint=keras.constraints.MaxNorm(1.0))), False),
    (lambda: dense(L.Dense(32, activation="relu", activity_regularizer="l2")), False),
    (lambda: functional_skip(), False),
    (lambda: dense(L.Dense(32, activation="relu"), kernel_constraint="non_neg"), False),
])
def test_the_spec_is_exact_only_when_it_says_all_of_the_model(make, exact):
    from mlplab.api import describe_keras
    assert describe_keras(make())[1] is exact
