"""Every number the doctor compares with, and where it comes from.

The statistics are those of `engine.probe`, measured after each epoch on a fixed probe batch
(`engine.probe.PROBE_ROWS` rows; row 0 is at initialization). Divergence and "at chance" are
not here: they are `analysis.status`'s numbers, the ones that set the run's status.

Sources, cited at each number:
    AUTOTRAINER   Zhang et al., ICSE 2021, "AUTOTRAINER: An Automatic DNN Training Problem
                  Detection and Repair System"; its monitor's defaults (utils/monitor.py and
                  demo params): vanishing beta_1 = 1e-3 / beta_2 = 1e-4, exploding beta_3 = 70,
                  dying ReLU gamma = 0.7, oscillation zeta = 0.03 in eta = 20 % of epochs, slow
                  convergence delta = 0.01, satisfying accuracy Theta = 0.7, train/test gap 0.07
                  (train accuracy > 0.9) or 0.1.
    DeepDiagnosis Wardat et al., ICSE 2022; its callback's constants: dead layer 70 % of outputs
                  <= 0, saturated layer 50 % of pre-activations beyond +-5, exploding tensor
                  variance > 10, vanishing gradient mean |g| < 1e-7, low learning rate
                  lr * |dW| / |W| < 1e-3.
    UMLAUT        Schoop et al., CHI 2021; its heuristics: inputs outside [-1, 1] are not
                  normalized, a NaN loss, validation loss rising while training loss falls,
                  typical Adam learning rates 1e-5 .. 1e-2.
    NeuraLint     Nikanjam et al., TOSEM 2021: static rules on the model graph (asymmetric
                  initialization, the loss matching the last layer's softmax, non-linear hidden
                  activations, regularization placement).
    measured      our own measurement on the doctor benchmark (bench/doctor.py, digits) or the
                  tests' runs built to show each problem (tests/analysis/test_diagnose.py).
    by hand       a round value chosen so the runs built to show a problem are caught while the
                  default experiment gets no alarm: a convention, not a measurement.
"""
from __future__ import annotations

import math

from ...catalog import OPTIMIZERS

# ------------------------------------------------------------------ the spec (configuration checks)

# Keras 3's default learning rates (SGD: 0.01; Adam, AdamW, RMSprop, Adagrad: 0.001).
DEFAULT_LR = {name: float(d["learning_rate"]) for name, d in OPTIMIZERS.items()}

# A sane learning-rate range per optimizer. Adaptive optimizers: UMLAUT's "typical learning rates
# for Adam are between 0.00001 and 0.01". SGD, measured on digits (64-64 ReLU, 20 epochs,
# bench/doctor.py): 5e-4 is still stuck near chance, 0.01 and 0.1 train; 0.8 oscillates, 1.5 kills
# the ReLUs, 3 diverges; the bounds 1e-3 and 0.5 are round values between. Adagrad's accumulator
# shrinks its steps, so it takes SGD-like rates (0.05 trains in the bench), and its Keras default of
# 0.001 is below its range: on the oracle's seed 1 (600 runs) no Adagrad run at 5.6e-4 to 5.6e-3 was
# healthy, and of the 30 there with a right fix, Adam at 0.001 was one for 17 (seed 2: 2 of 2).
LR_RANGE = {"sgd": (1e-3, 0.5), "adam": (1e-5, 1e-2), "adamw": (1e-5, 1e-2), "rmsprop": (1e-5, 1e-2),
            "adagrad": (1e-2, 0.5)}

# Dropout above one half drops more units than it keeps (Srivastava et al., JMLR 2014, use
# 0.5 for hidden layers as the upper end; Keras' examples use 0.2 .. 0.5).
DROPOUT_HIGH = 0.5
# ... yet it is rarely what holds a run back most: on the oracle's seed 1, where it was the first cause named
# (base score 3), its fix was right for 7 of 24 runs; wider layers, scaled inputs, another rate, crossentropy or no
# dropout at all were right in the others. It ranks below the inputs, the loss, too few steps and a rate out of
# range (2-2.5), above "too few epochs" (1.5).
DROPOUT_SCORE = 1.8

# An L1/L2 term at initialization at least as large as the loss of a uniform guess (log C, 2.3 on
# ten classes) dominates the loss: training shrinks the weights instead of fitting the data. By
# hand; measured: l2 = 1.0 (a term of ~150 on the default digits MLP) and l1 = 0.1 end at chance,
# l2 = 1e-4 (~0.015) trains as without it.
REGULARIZATION_DOMINATES = 1.0   # x log(C)
# ... yet the term at initialization overstates a modest coefficient on a wide layer (the weights soon shrink
# to where it is small). On the oracle's seed 1 (runs 80-385), of 15 runs where it was the first cause, L2 = 0
# was a right fix for the 5 with L2 >= 0.21 and for none of the 9 with L2 <= 0.036, where the learning rate, the
# loss or the activation was. Below L2_STRONG, an L2 term ranks after the other causes.
L2_STRONG = 0.1
REGULARIZATION_SCORE = 3.5
REGULARIZATION_MODEST_SCORE = 1.0

# Batch sizes below this make every step follow one to three samples: steps so noisy that a
# learning rate right for batch 32 (Keras' default) overshoots. The issue's measurement: batch
# size 1 with SGD at 0.1 on digits ended at 0.81; batch 32 or lr 0.01 reached 0.97.
BATCH_TINY = 4
# ... yet a tiny batch is rarely what holds a run back: on the oracle's seed 1 (runs 80-385) a batch of 32
# was a right fix for 1 of the 15 unhealthy runs flagged with a tiny batch, and for 1 of 8 where it was the
# first cause named. It ranks after every other cause (base score 1.0, was 3-4).
BATCH_TINY_SCORE = 1.0

# Optimizer steps in the whole run (epochs x batches per epoch) below which training has barely started: the
# issue's full-batch run (batch 1294 on digits, 2 epochs: 2 steps) ends at 13 %; the default digits run takes
# 41 steps an epoch, 820 in all. By hand, checked on the oracle benchmark (bench/doctor_oracle.py).
FEW_STEPS = 100

# A validation split above one half trains on fewer rows than it validates on (Keras' examples use
# 0.1-0.2). By hand; measured: digits with a 0.9 split (143 training rows) overfits a 512-512 net.
VALIDATION_SPLIT_HIGH = 0.5

# Sigmoid/tanh nets this deep without batch normalization lose the gradient (Glorot & Bengio,
# AISTATS 2010: a sigmoid passes back at most 0.25 of it per layer).
DEEP_SATURATING = 5

# Keras' crossentropy clips probabilities to [1e-7, 1 - 1e-7] (keras.config.epsilon()): a sample
# whose true class gets the clipped minimum costs -log(1e-7), about 16.1. A loss above half of it
# means a softmax confidently wrong on most rows (about 14.5 on 10 classes at chance).
CLIP_LOSS = -math.log(1e-7)

# A learning rate this many times its optimizer's default is suspect when the loss also sits
# near the clip value. By hand: 3x is one step up a 1-3-10 learning-rate grid from the default.
# (On its own, a rate is too high when it is above its optimizer's LR_RANGE.)
LR_HIGH = 3
# A learning rate this many times above its optimizer's range is the first thing to fix, before the data's
# scale or the initialization (bench/doctor_oracle.py: RMSprop at 5.2 on raw digits diverges; scaling the
# inputs leaves it at 0.14, Adam at 0.001 reaches 0.92).
LR_FAR = 10

# ------------------------------------------------------------------ curves

# A trend needs a few epochs: "stuck" waits this many epochs, "overfitting" needs the best
# validation loss at least this many epochs before the end. By hand.
SEVERAL_EPOCHS = 3

# Overfitting from the validation-loss trend (UMLAUT's heuristic: validation loss rising while
# training loss falls), made robust: the mean of the last up-to-3 epochs at least 10 % above its
# minimum while the training loss fell below 0.8 of its value there. By hand.
OVERFIT_RISE = 0.10
OVERFIT_TRAIN_FALL = 0.8
# ... and a warning only when the validation accuracy fell too, beyond the noise (rules._accuracy_lost).
# Overfitting from the accuracy gap, AUTOTRAINER's "test not well": train accuracy above 0.9 and
# 7 points above validation (test when there is no validation split), or 10 points below that;
# as AUTOTRAINER judges it only after 30 % of the epochs, we judge it only once the validation loss
# has stopped improving (a 3-epoch digits run is 95 % vs 87 % while both still rise).
GAP_HIGH_ACCURACY = 0.9
GAP_WHEN_HIGH = 0.07
GAP_WHEN_LOW = 0.10
# ... but a gap of that size is a note, not a problem: on the oracle benchmark (bench/doctor_oracle.py, seed
# 0) runs on 3,000 MNIST or Fashion-MNIST rows end with 10-point gaps that neither dropout 0.2, early
# stopping, nor any other single change narrowed beyond noise. A gap of GAP_LARGE or more is a warning.
GAP_LARGE = 0.2

# Labels: validation rows come from the training file, test rows from their own. A model that
# scores GAP_LABELS higher on the test set than on validation rows learned from labels noisier
# than the test labels (by hand; 40 % of digits' training labels redrawn at random cap validation
# accuracy near 0.64 while the test set scores over 0.9). Training accuracy this far above chance
# while validation and test sit at chance is memorizing labels unrelated to the inputs.
GAP_LABELS = 0.10
MEMORIZED = 0.3

# Underfitting: training accuracy below UNDERFIT_ACCURACY (yet above chance). AUTOTRAINER calls
# a run that never reaches Theta = 0.7 not converged; we ask more, 0.85, because the default MLP
# reaches about 0.97 on digits (README). Gaining more than STILL_LEARNING (half a point) per
# epoch over the last 3 epochs means it is still learning (AUTOTRAINER's slow-convergence delta
# is 0.01 over the whole run). Fewer than SMALL_MODEL_PARAMS weights (a 64-input logistic
# regression on 10 classes has 650, the default MLP about 9,000) or a hidden layer narrower than
# the number of classes is too small to represent the problem.
UNDERFIT_ACCURACY = 0.85
# ... and a problem (a warning) only below AUTOTRAINER's Theta = 0.7, or when the held-out accuracy is poor
# too (below the easy baseline, or less than halfway from chance): on the oracle benchmark's first held-out
# runs (seed 1) runs on 3,000 Fashion-MNIST rows ended at 0.75-0.8 training accuracy that no single change
# improved beyond noise; between the two it is a note.
UNDERFIT_POOR = 0.7
STILL_LEARNING = 0.005
SMALL_MODEL_PARAMS = 2000
# A hidden layer of NARROW units or fewer is a bottleneck even for two classes, and comes before the other causes
# of a stuck or underfitting run (except a rate far out of range and the weights' start): on the oracle's seed 1
# (600 runs), widening the layers (to 64, keeping the depth) was a right fix for 31 of the 57 fixable runs with a
# layer of 2-4 units (for 10 of 15 on cosine2d), for 1 of 7 cosine2d runs with 5-8; of those 31, the first cause
# named then (too few steps, no clear cause, dropout, a small initialization, ...) was right for 12.
NARROW = 4
BOTTLENECK_SCORE = 4.0

# What a run should reach. EASY_BASELINE: the test accuracy of the easiest model that learns each built-in
# set, measured 2026-12-07 (mlplab run --set 'model.hidden=[]', Adam 0.001, 20 epochs, early stopping): a
# logistic regression on digits 0.911, MNIST 0.927, Fashion-MNIST 0.841; cosine2d is not linearly separable
# (0.548), so its baseline is the default 64-64 ReLU MLP at the noise of 0.3 (0.896; 1.0 without noise).
# A run below it learned less than a model with no hidden layer does (on the oracle benchmark's seed 0, the
# digits runs at 0.87 validation accuracy were all improved by a single change to 0.96). On any data set, a
# held-out accuracy less than halfway from chance to perfect (LEARNED_LITTLE) is a poor result.
EASY_BASELINE = {"digits": 0.911, "mnist": 0.927, "fashion-mnist": 0.841, "cosine2d": 0.896}
# "Far below" allows for the noise of the held-out rows: the validation and test accuracy pooled, below the
# baseline by more than FAR_BELOW_SE standard errors on that many rows (digits: 503 rows, 2.5 points). On the
# oracle's seed 1 (runs 80-385), a digits run at 0.895 validation / 0.914 test was labelled healthy (no single
# change beat it beyond the noise); the old margin of 0 warned about it.
FAR_BELOW = 0.0
FAR_BELOW_SE = 2.0
LEARNED_LITTLE = 0.5

# Oscillation: the validation loss rising more than 25 % from one epoch to the next and falling
# again, at least twice and in at least OSCILLATION_SHARE of the epochs (by hand; measured: healthy
# SGD at 0.1 on digits' 143 validation rows jumps twice in 15 epochs); or AUTOTRAINER's unstable
# accuracy: successive local maxima and minima of the training accuracy at least
# OSCILLATION_AMPLITUDE apart in at least OSCILLATION_SHARE (AUTOTRAINER's eta) of the epochs.
OSCILLATION_JUMP = 0.25
OSCILLATION_AMPLITUDE = 0.03
OSCILLATION_SHARE = 0.2

# A training loss 10x above its lowest so far (and above 1): a blow-up short of divergence.
# It has recovered when it is back below the spike / sqrt(SPIKE_FACTOR). By hand.
SPIKE_FACTOR = 10.0

# The running (training-mode) and inference-mode training losses differ by at least this
# fraction of the inference loss: worth explaining when dropout or batch-norm is on. By hand.
RUNNING_GAP = 0.1

# ------------------------------------------------------------------ weight statistics

# update_ratio = |W_after - W_before| / |W_before| over one epoch. In a healthy run an epoch
# changes each weight matrix by a few percent of its size; more than its own size (1.0) throws
# away what was learned. By hand; AUTOTRAINER flags weights whose magnitude passes 5.
UPDATE_RATIO_HUGE = 1.0
# Small initial weights may move by their own size in the first epoch without harm (Adam on
# 60k MNIST rows does): in epoch 1 only a move of 3x their size counts. Measured.
FIRST_EPOCH_ALLOWANCE = 3.0
# A median update ratio below 1e-4 with a real gradient (above GRADIENT_PRESENT) means the
# weights barely move. DeepDiagnosis flags lr * |dW| / |W| < 1e-3 per step; ours is per epoch.
UPDATE_RATIO_TINY = 1e-4
GRADIENT_PRESENT = 1e-3

# grad_norm(first kernel) / grad_norm(last kernel), median over epochs. Vanishing below 1e-2:
# AUTOTRAINER uses 1e-3 with a first-layer norm under 1e-4; we flag earlier, at the loss of about
# three sigmoid layers at their steepest (0.25**3 = 0.016). Exploding above AUTOTRAINER's 70.
VANISHING_RATIO = 1e-2
EXPLODING_RATIO = 70.0

# ------------------------------------------------------------------ activation statistics

# Dead ReLUs: the fraction of a ReLU layer's units that output zero for every probe row (only
# "relu": leaky_relu, elu, gelu and selu pass a gradient for negative inputs, so their units do
# not die). AUTOTRAINER (zero gradients) and DeepDiagnosis (outputs <= 0) flag 70 % of a layer's
# outputs; a unit zero for all 256 probe rows is stricter, so half the units counts. A Glorot/He
# initialized ReLU layer starts with under 10 % dead; SGD at lr 3 on digits kills over 90 %.
DEAD_FRACTION = 0.5
# Saturation: the fraction of sigmoid outputs within 0.01 of 0 or 1 (tanh: of -1 or 1), where the
# slope is almost zero, i.e. |pre-activation| > 4.6. DeepDiagnosis flags 50 % beyond +-5; we flag
# 40 % (unscaled inputs drive a sigmoid layer past it in the tests).
SATURATED_FRACTION = 0.4
# Exploding activations: a hidden layer's output variance above 100 (std above 10). DeepDiagnosis'
# exploding-tensor bound is a variance of 10 (std 3.2), but trained healthy nets pass it: the
# Fashion-MNIST CNN recipe's dense layer (batch-norm before it, 93 % test accuracy) reaches std 3.2
# by epoch 9. Exploding nets are far above: the 10-layer ReLU net reaches ~70.
ACTIVATION_VARIANCE_HIGH = 100.0

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

# ------------------------------------------------------------------ data

# "The validation rows hold no class X, the data may be ordered": a random split misses a class of
# training share p with probability (1 - p) ** n_val. Only when that is below ORDERED_CHANCE for the
# missing classes together is the order, not chance, the explanation (a random 600-row subset misses
# a class of ten in 60 validation rows about 2 % of the time). By hand.
ORDERED_CHANCE = 1e-3

# ------------------------------------------------------------------ ranking

# Unscaled inputs rank below the learning rate, the loss and the initialization: on the oracle benchmark
# (bench/doctor_oracle.py, seed 0) scaling alone was the right fix for 1 of 6 unhealthy runs on raw pixels:
# a learning rate set for raw pixels is then 16x too small (digits: 0.27 -> 0.16 with Adagrad, 0.28 -> 0.07
# with SGD and a strong L2), and Adam or the learning rate was what helped.
UNSCALED_SCORE = 2.0
# ... but raw pixels come first in a run that diverged with its learning rate within the usual range (only the
# statistics, updates many times the weights' size or a clipped loss, call it too high): the large inputs make
# those steps. Seed 1 (runs 80-385): of 7 such runs, scaling was a right fix for 4, a tenth of the rate for 1;
# seed 0: scaling for 2 of 2.
LR_HIGH_UNSCALED_SCORE = 1.5

# How much a cause's score rises for each symptom it explains: an error counts twice a warning.
# By hand; base scores are set at each cause (4.5 for weights that start equal, which no step size
# can fix, down to 1.5 for "train longer").
EXPLAINS_ERROR = 1.0
EXPLAINS_WARNING = 0.5
