"""Every number the doctor compares with, and where it comes from.

The statistics are those of `engine.probe`, measured after each epoch on a fixed probe batch
(`engine.probe.PROBE_ROWS` rows; row 0 is at initialization). Divergence and "at chance" are
not here: they are `analysis.status`'s numbers, the ones that set the run's status.

A number marked *by hand* is a round value chosen so that the runs built to show each problem
(tests/test_diagnose.py) are caught while the default experiment gets no alarm; it is a
convention, not a measurement. Changing one changes what the doctor reports.
"""
from __future__ import annotations

import math

from ...catalog import OPTIMIZERS

# ------------------------------------------------------------------ the spec

# Keras 3's default learning rates (keras.optimizers.SGD: 0.01; Adam, AdamW, RMSprop, Adagrad:
# 0.001): the rate a spec without one trains with, and the yardstick for "too high/too low".
DEFAULT_LR = {name: float(d["learning_rate"]) for name, d in OPTIMIZERS.items()}  # Keras' defaults

# Keras' crossentropy clips probabilities to [1e-7, 1 - 1e-7] (keras.config.epsilon()): a sample
# whose true class gets the clipped minimum costs -log(1e-7), about 16.1. A loss above half of it
# means a softmax confidently wrong on most rows (about 14.5 on 10 classes at chance).
CLIP_LOSS = -math.log(1e-7)

# A learning rate this many times its optimizer's default is suspect when the loss also sits
# near the clip value (LR_HIGH), or on its own (LR_FAR_TOO_HIGH). By hand: 3x is one step up a
# 1-3-10 learning-rate grid from the default, 30x more than an order of magnitude beyond that.
LR_HIGH = 3
LR_FAR_TOO_HIGH = 30

# ------------------------------------------------------------------ curves

# A trend needs a few epochs: "stuck" waits this many epochs before judging, "overfitting"
# needs the best validation loss at least this many epochs before the end. By hand.
SEVERAL_EPOCHS = 3

# Overfitting: the validation loss (mean of the last up-to-3 epochs) at least 10 % above its
# minimum, while the training loss fell below OVERFIT_TRAIN_FALL of its value at that minimum
# (i.e. by at least 20 %). By hand: a rise sustained over several epochs, not one noisy epoch.
OVERFIT_RISE = 0.10
OVERFIT_TRAIN_FALL = 0.8

# Underfitting: training accuracy below UNDERFIT_ACCURACY (yet above chance). By hand: the
# default MLP reaches about 97 % on digits (README), so 85 % on its own training rows means
# it fits them poorly. Gaining more than STILL_LEARNING (half a point of accuracy) per epoch
# over the last 3 epochs means it is still learning (train longer) rather than plateaued.
# A model with fewer than SMALL_MODEL_PARAMS weights (a 64-input logistic regression on 10
# classes has 650, the default MLP about 9,000) or a hidden layer narrower than the number of
# classes counts as too small to represent the problem.
UNDERFIT_ACCURACY = 0.85
STILL_LEARNING = 0.005
SMALL_MODEL_PARAMS = 2000

# Oscillation: the validation loss rising more than 25 % from one epoch to the next and falling
# again in the next, at least twice. By hand: a jump of a quarter, twice, is more than a
# converging run's epoch-to-epoch noise.
OSCILLATION_JUMP = 0.25

# A training loss 10x above its lowest so far (and above 1): a blow-up short of divergence.
# It has recovered when it is back below the spike / sqrt(SPIKE_FACTOR). By hand: one order
# of magnitude.
SPIKE_FACTOR = 10.0

# The running (training-mode) and inference-mode training losses differ by at least this
# fraction of the inference loss: worth explaining when dropout or batch-norm is on. By hand.
RUNNING_GAP = 0.1

# ------------------------------------------------------------------ weight statistics

# update_ratio = |W_after - W_before| / |W_before| over one epoch. In a healthy run an epoch
# changes each weight matrix by a few percent of its size; moving by more than its own size
# (1.0) throws away what was learned.
UPDATE_RATIO_HUGE = 1.0
# Small initial weights may move by their own size in the first epoch without harm (Adam on
# 60k MNIST rows does, commit 4a74774): in epoch 1 only a move of 3x their size counts.
FIRST_EPOCH_ALLOWANCE = 3.0
# A median update ratio below 1e-4 (with a real gradient, above GRADIENT_PRESENT) means the
# weights barely move (the tests' SGD run at lr 1e-6 is below it). By hand.
UPDATE_RATIO_TINY = 1e-4
GRADIENT_PRESENT = 1e-3

# grad_norm(first kernel) / grad_norm(last kernel), median over epochs. Two orders of
# magnitude either way: a sigmoid passes back at most 0.25 of the gradient per layer, so 1e-2
# is the loss of about three sigmoid layers at their steepest (0.25**3 = 0.016).
VANISHING_RATIO = 1e-2
EXPLODING_RATIO = 1e2

# ------------------------------------------------------------------ activation statistics

# Dead ReLUs: the fraction of a ReLU-like layer's units that output zero for every probe row.
# By hand: half a layer. A Glorot/He-initialized ReLU layer starts with almost none dead
# (under 10 %); SGD at lr 3 on digits kills over 90 %.
DEAD_FRACTION = 0.5
# Saturation: the fraction of sigmoid outputs within 0.01 of 0 or 1 (tanh: of -1 or 1), where
# the slope is almost zero. By hand: unscaled inputs (the tests' digits run with scale = 'none')
# drive a sigmoid layer past it.
SATURATED_FRACTION = 0.4

# ------------------------------------------------------------------ initialization

# An initializer scale (random_normal/truncated_normal stddev, random_uniform's largest |bound|)
# of INIT_SCALE_HUGE or more sums dozens to hundreds of inputs into pre-activations far beyond
# where sigmoid/tanh have a slope, and ReLU nets blow up with depth; below INIT_SCALE_TINY the
# signal fades layer by layer. By hand: both are an order of magnitude or more away from
# Glorot's scale (its uniform bound for a 64-64 layer is sqrt(6/128), about 0.22).
INIT_SCALE_HUGE = 1.0
INIT_SCALE_TINY = 1e-3
# At initialization: activations with |mean| or spread above ACTIVATION_HUGE have exploded;
# more than half of a layer's sigmoid/tanh outputs saturated (SATURATED_AT_INIT) means the
# weights are too large; a last hidden layer whose outputs spread less than ACTIVATION_TINY
# carries almost no signal. By hand.
ACTIVATION_HUGE = 100
SATURATED_AT_INIT = 0.5
ACTIVATION_TINY = 1e-3
