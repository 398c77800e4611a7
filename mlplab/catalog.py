"""Every name mlplab knows and every default it fills in, as plain data.

One definition each: the spec validates against these tables (spec/), the engine
implements them (engine/optimizers.py, engine/models.py), and whatever lists
choices (the web form, the API, messages) reads them. Standard library only, so
that reading a name never loads JAX.

Adding an optimizer: its entry in OPTIMIZERS and OPTIMIZER_CLASSES here (plus
OPTIMIZER_BOUNDS for a parameter no other optimizer has), its update rule in
engine/optimizers.py. Adding a layer type: its entry in LAYER_KEYS (LAYER_NEEDS,
IMAGE_LAYERS if they apply), its builder in engine/models.py.
"""

# ---------------------------------------------------------------- model

ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear", "elu", "gelu", "leaky_relu", "selu", "softplus", "swish")

# Initializer name -> the parameters it takes (Keras' names) with Keras' defaults.
INITIALIZERS: dict[str, dict[str, float]] = {
    "glorot_uniform": {}, "glorot_normal": {}, "he_normal": {}, "he_uniform": {},
    "lecun_normal": {}, "lecun_uniform": {},
    "random_normal": {"mean": 0.0, "stddev": 0.05}, "truncated_normal": {"mean": 0.0, "stddev": 0.05},
    "random_uniform": {"minval": -0.05, "maxval": 0.05},
    "zeros": {}, "ones": {}, "constant": {"value": 0.0},
}

# The Keras class of each initializer (keras.initializers.<class>).
INITIALIZER_CLASSES = {
    "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal", "he_normal": "HeNormal",
    "he_uniform": "HeUniform", "lecun_normal": "LecunNormal", "lecun_uniform": "LecunUniform",
    "random_normal": "RandomNormal", "truncated_normal": "TruncatedNormal", "random_uniform": "RandomUniform",
    "zeros": "Zeros", "ones": "Ones", "constant": "Constant",
}

# Limits of initializer parameters (pydantic's gt/ge/lt/le); a parameter not listed takes any finite number.
INITIALIZER_BOUNDS: dict[str, dict[str, float]] = {
    "stddev": {"ge": 0},
}

# Layer type -> the keys it takes besides `type` (in the order the spec documents them).
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "dense": ("units", "activation", "init", "l1", "l2"),
    "dropout": ("rate",),
    "batchnorm": ("activation",),
    "conv2d": ("filters", "kernel", "strides", "padding", "activation", "init", "l1", "l2"),
    "max_pool": ("size",),
    "flatten": (),
}

# Layer type -> the keys it cannot do without, each with an example value for the message.
LAYER_NEEDS: dict[str, dict[str, int]] = {
    "dense": {"units": 64},
    "conv2d": {"filters": 32},
}

# Layer types that work on images (N, H, W, C): a model with one keeps its inputs unflattened.
IMAGE_LAYERS = ("conv2d", "max_pool")

# The most layers a model may have, as built (the hidden shorthand spelled out: a width with batch-norm and
# dropout is three): Keras' model building recurses per layer and fails near 1,000; 256 layers train.
MAX_LAYERS = 256

# ---------------------------------------------------------------- training

# Optimizer name -> Keras' constructor default for every parameter mlplab supports
# (the Keras 3 signatures; tests/spec/test_catalog.py instantiates each class to check).
OPTIMIZERS: dict[str, dict[str, float | bool]] = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False},
    "adamw": {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
              "amsgrad": False},
    "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    "adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
}

# The Keras class of each optimizer (keras.optimizers.<class>).
OPTIMIZER_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}

# What each optimizer parameter does, one line each (`mlplab optimizers NAME`, `ml.help(NAME)`; a
# parameter means the same in every optimizer that takes it).
OPTIMIZER_PARAMETERS: dict[str, str] = {
    "learning_rate": "the step size: how far each update moves the weights along the (scaled) gradient",
    "momentum": "the fraction of the previous update carried into this one (0: none); speeds up steady directions",
    "nesterov": "Nesterov momentum: the gradient is taken at the point momentum leads to (needs momentum > 0)",
    "beta_1": "decay rate of the running mean of the gradients (the first moment)",
    "beta_2": "decay rate of the running mean of the squared gradients (the second moment)",
    "epsilon": "a small constant added to the denominator for numerical stability",
    "amsgrad": "AMSGrad: divide by the largest second moment seen so far instead of the current one",
    "weight_decay": "decoupled weight decay: each step also shrinks every weight by learning_rate x weight_decay x it",
    "rho": "decay rate of the running mean of the squared gradients",
    "centered": "divide by the gradients' estimated variance instead of their second moment (steadier, a little slower)",
    "initial_accumulator_value": "the starting value of each weight's sum of squared gradients",
}

# Structural options: they change which state exists or which formula runs, so they are
# part of a compiled program (a population shares them); every other parameter is data.
STATIC_OPTIONS = ("nesterov", "amsgrad", "centered")

# Limits of optimizer parameters (pydantic's gt/ge/lt/le); a parameter not listed takes any finite number.
OPTIMIZER_BOUNDS: dict[str, dict[str, float]] = {
    "learning_rate": {"gt": 0},
    "momentum": {"ge": 0, "lt": 1},
    "beta_1": {"ge": 0, "lt": 1},
    "beta_2": {"ge": 0, "lt": 1},
    "epsilon": {"gt": 0},
    "weight_decay": {"ge": 0},
    "rho": {"ge": 0, "lt": 1},
    "initial_accumulator_value": {"ge": 0},
}

# Learning-rate schedules per epoch (train.schedule; engine/schedules.py has the formulas): name ->
# default of every parameter. plateau's are keras.callbacks.ReduceLROnPlateau's; cosine is Keras'
# CosineDecay over the run's epochs; exponential and step are LearningRateScheduler functions of the
# epoch (Keras' ExponentialDecay counts steps; here decay_rate applies once per epoch).
SCHEDULES: dict[str, dict[str, float | str]] = {
    "constant": {},
    "exponential": {"decay_rate": 0.9},
    "step": {"every": 10, "factor": 0.5},
    "cosine": {"alpha": 0.0},
    "plateau": {"monitor": "val_loss", "factor": 0.1, "patience": 10, "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0},
}
SCHEDULE_BOUNDS: dict[str, dict[str, float]] = {
    "decay_rate": {"gt": 0, "le": 1}, "every": {"gt": 0}, "factor": {"gt": 0, "lt": 1}, "alpha": {"ge": 0, "lt": 1},
    "patience": {"ge": 0}, "min_delta": {"ge": 0}, "cooldown": {"ge": 0}, "min_lr": {"ge": 0},
}

LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse")

# What early stopping may watch (train_* are the same as loss/accuracy).
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy", "train_loss", "train_accuracy")

# ---------------------------------------------------------------- data

SCALES = ("unit", "symmetric", "standard", "none")

# The options of the built-in sets. cosine2d: its generator's parameters (data.sources.cosine2d).
# digits: split_seed, the random_state of scikit-learn's train_test_split(test_size=0.2) called as
# the course notebooks call it (not stratified), instead of mlplab's stratified split with seed 0.
DATASET_OPTIONS = {"cosine2d": ("n", "a", "noise", "seed"), "digits": ("split_seed",)}
COSINE2D_OPTIONS = DATASET_OPTIONS["cosine2d"]
