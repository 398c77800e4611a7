"""Experiments -> populations: which experiments share one compiled program, how a group is cut
into chunks that fit in memory, and each chunk's Keras models, members and program.

This is the public seam for building and training a population without a store
(`build_population`, `train_population`): the runner, the Ray executor, the
scikit-learn estimator and the benchmarks use it. `train_population` is the one
call of `engine.train.train` in the package.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from ..analysis.cost import estimate, fits
from ..analysis.status import divergence_rule
from ..data import Dataset, load_data
from ..engine.layout import choose as choose_layout
from ..engine.program import Compiled, EarlyStopping, Member, Program, StepRules, regularized_variables
from ..engine.callbacks import LambdaCallback
from ..engine.train import train
from ..engine.models import build_model, count_params, regularization, summary
from ..catalog import OPTIMIZERS, STATIC_OPTIONS as STATIC
from ..errors import BadInput
from ..spec import Experiment


def check_compatible(exp: Experiment, data: Dataset) -> None:
    es, schedule = exp.train.early_stopping, exp.train.schedule
    if es and es.monitor.startswith("val_") and len(data.x_val) == 0:
        raise BadInput(f"train.early_stopping.monitor = \"{es.monitor}\": needs data.validation_split > 0; "
                       "set a split, monitor \"loss\", or early_stopping = false")
    if schedule and schedule.name == "plateau" and schedule.settings()["monitor"].startswith("val_") \
            and len(data.x_val) == 0:
        raise BadInput(f"train.schedule.monitor = \"{schedule.settings()['monitor']}\": needs "
                       "data.validation_split > 0; set a split or monitor \"loss\"")


def _structure(exp: Experiment) -> dict:
    """The model as the compiled math sees it: initializers and L1/L2 factors are member data."""
    model = exp.model.model_dump(mode="json", exclude={"init", "l1", "l2", "output_l2"})
    for layer in model.get("layers") or []:
        for key in ("init", "l1", "l2"):
            layer.pop(key, None)
    return model


def program_key(exp: Experiment) -> str:
    """What must be equal for two experiments to train in one compiled program."""
    # the optimizer is not part of it: a group of several optimizers trains as a mixed population;
    # nor is the schedule: each member's learning rate is data
    train = exp.train.model_dump(mode="json", exclude={"optimizer", "learning_rate", "schedule",
                                                          "tensorboard"})
    return json.dumps([exp.data.model_dump(mode="json"), _structure(exp), train], sort_keys=True)


def shares_programs(a: Experiment, b: Experiment) -> bool:
    """Would `b` trained alone run the very programs `a` trained alone compiled (so a persistent compilation
    cache that holds them skips compiling)? The same model structure, optimizer kind, loss, batch size and
    data shapes; learning rates, initializers, data values and epochs may differ. It only schedules training:
    a wrong answer costs a compilation, never a result."""
    def shape(e: Experiment):
        data = e.data.model_dump(mode="json", exclude={"scale", "split_seed"})   # these change values only
        return _structure(e), optimizer_kind(e), e.train.loss, e.train.batch_size, data, bool(e.model.l1 or e.model.l2)
    return shape(a) == shape(b)


_COMPILED: dict[str, Compiled] = {}   # most recently used last
_KEEP = 16


def compiled_for(exp: Experiment, program: Program, members: list[Member], info) -> Compiled:
    """The compiled functions of a population's math, shared by every population and call in this process
    that computes the same function: the same model structure (a new Keras model of it computes the same
    function), input shape, classes, loss, optimizer kinds and regularized variables, compiled quickly or
    not (engine.layout.compile_quickly: a single small run). Data, the member count
    and batch size (shapes), epochs, early stopping and shuffling are arguments or the host's: a sweep's
    chunks, groups that differ only in data (a repair's `data.scale`), scikit-learn refits and the notebook's
    next run reuse it instead of compiling again."""
    regularized = regularized_variables(members)
    layout = choose_layout(program.model, len(members), info.n_train, program.epochs)
    key = json.dumps([_structure(exp), info.input_shape, info.num_classes, program.loss, program.optimizers,
                      regularized, layout], sort_keys=True, default=str)
    compiled = _COMPILED.pop(key, None) or Compiled(program, info.num_classes, regularized, layout)
    _COMPILED[key] = compiled
    while len(_COMPILED) > _KEEP:
        del _COMPILED[next(iter(_COMPILED))]
    return compiled


def optimizer_kind(exp: Experiment) -> tuple[str, tuple]:
    opt = exp.train.optimizer.settings()
    return exp.train.optimizer.name, tuple(sorted((k, bool(opt[k])) for k in STATIC if k in opt))


def member_of(exp: Experiment, model, kinds: list[tuple[str, tuple]] | None = None) -> Member:
    """What this experiment brings to a population; with several optimizer kinds, its
    hyperparameters cover every kind's (the others' defaults) plus its own kind's index."""
    trainable = [np.asarray(v.value) for v in model.trainable_variables]
    non_trainable = [np.asarray(v.value) for v in model.non_trainable_variables]
    hyper = {k: float(v) for k, v in exp.train.optimizer.settings().items() if k not in STATIC}
    if kinds and len(kinds) > 1:
        for name, _ in kinds:
            for k, v in OPTIMIZERS[name].items():
                if k not in STATIC:
                    hyper.setdefault(k, float(v))
        hyper["kind"] = float(kinds.index(optimizer_kind(exp)))
    schedule = exp.train.schedule.settings() if exp.train.schedule else None
    return Member(trainable, non_trainable, hyper, regularization(model), seed=exp.seed, schedule=schedule)


def early_stopping_of(exp: Experiment) -> EarlyStopping | None:
    es = exp.train.early_stopping
    return EarlyStopping(**es.model_dump()) if es else None


def program_of(exp: Experiment, model, kinds: list[tuple[str, tuple]] | None = None) -> Program:
    return Program(model=model, optimizers=tuple(kinds or [optimizer_kind(exp)]), loss=exp.train.loss,
                          batch_size=exp.train.batch_size, epochs=exp.train.epochs, shuffle=exp.train.shuffle,
                          early_stopping=early_stopping_of(exp))


MEMORY_BUDGET = 2 * 2**30  # bytes a population may take; larger groups train in chunks


def population_size(params: int, batch_size: int, input_size: int, budget: float = MEMORY_BUDGET) -> int:
    """How many members fit the budget: weights, gradients, optimizer slots, best and
    start-of-epoch copies (about 12 float32 copies of the parameters) plus a batch."""
    per_member = 4 * (12 * params + 4 * batch_size * input_size)
    return max(1, min(1024, int(budget // per_member)))


def groups_of(experiments: list[Experiment]) -> list[list[Experiment]]:
    """Experiments that can share one compiled program, in order of first appearance."""
    groups: dict[str, list[Experiment]] = {}
    for exp in experiments:
        groups.setdefault(program_key(exp), []).append(exp)
    return list(groups.values())


def equal_chunks(items: list, size: int) -> list[list]:
    """Split into equal chunks of at most `size`; the last is padded with repeats of its
    first item so every chunk has the same shape (one compiled program)."""
    count = -(-len(items) // size)
    size = -(-len(items) // count)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    return [c + [c[0]] * (size - len(c)) for c in chunks]


@dataclass(frozen=True)
class ModelFacts:
    """What every run of a population records about its model (the members share its structure), computed
    once per population: Keras' summary, the parameter count, the layer names."""
    summary: str
    params: int
    layers: list[str]

    @classmethod
    def of(cls, model) -> "ModelFacts":
        return cls(summary(model), count_params(model), [layer.name for layer in model.layers])


@dataclass
class Population:
    """One population ready to train: its experiments (a chunk, padded to one shape; the first `real` are
    stored runs), their Keras models, members and program, and what its runs record about the model (None
    where nothing is stored: the scikit-learn estimator)."""
    experiments: list[Experiment]
    real: int
    models: list
    members: list[Member]
    program: Program
    facts: ModelFacts | None = None
    shares_compiled: bool = True   # models built from their spec: compiled functions shared (compiled_for)

    @property
    def stored(self) -> list[Experiment]:
        return self.experiments[:self.real]

    def compiled(self, info) -> Compiled | None:
        """The shared compiled functions, or None (engine.train compiles its own: a user's Keras model, whose
        spec is at best an approximation, shares them with nothing)."""
        return compiled_for(self.experiments[0], self.program, self.members, info) if self.shares_compiled else None


@dataclass
class GroupPlan:
    """One population's work: its experiments cut into equal chunks, their data, their optimizers, and the
    first experiment's model (built once: it sizes the chunks, then starts the first chunk)."""
    group: list[Experiment]
    data: Dataset
    kinds: list[tuple[str, tuple]]
    chunks: list[list[Experiment]]   # padded to one shape; the padding repeats are not stored
    real: list[int]                  # how many experiments of each chunk are real
    template: object
    facts: ModelFacts

    def population(self, index: int) -> Population:
        """Chunk `index` built: its models (the template is the first chunk's first), members and program."""
        chunk = self.chunks[index]
        ready = {model_key(self.group[0]): self.template} if index == 0 else {}
        models, members, program = build_population(chunk, self.kinds, self.data.info, ready)
        return Population(chunk, self.real[index], models, members, program, self.facts)


def check_memory(exp: Experiment, data: Dataset, params: int | None = None, members: int = 1) -> int:
    """BadInput (analysis.cost) unless `members` of `exp` fit in this machine's memory, checked before they
    are built (`params`: the count of a model built already, ml.fit's); the batch size as trained."""
    info = data.info
    est = estimate(exp, info.input_shape, info.num_classes, len(data.x_train) + len(data.x_val), len(data.x_test))
    fits(exp, est if params is None else dataclasses.replace(est, params=params), members)
    return est.batch


def plan_group(group: list[Experiment], memory_budget: float = MEMORY_BUDGET) -> GroupPlan:
    first = group[0]
    data = load_data(first)
    for exp in group:
        check_compatible(exp, data)
    batch = check_memory(first, data)   # the group shares its model's structure, batch size and data shapes
    info = data.info
    template = build_model(first.model, info.input_shape, info.num_classes, first.train.loss, first.seed)
    facts = ModelFacts.of(template)
    size = population_size(facts.params, batch, int(np.prod(info.input_shape)), memory_budget)
    index_chunks = equal_chunks(list(range(len(group))), size)
    return GroupPlan(group, data, sorted({optimizer_kind(e) for e in group}),
                     [[group[i] for i in c] for c in index_chunks], [len(set(c)) for c in index_chunks],
                     template, facts)


def model_key(exp: Experiment) -> tuple[str, int]:
    """Members with the same model spec and seed start from the same weights: one Keras model for them."""
    return exp.model.model_dump_json(), exp.seed


def build_population(chunk: list[Experiment], kinds: list, info,
                     ready: dict | None = None) -> tuple[list, list[Member], Program]:
    """The Keras models, members and program of one chunk (the same wherever it runs); `ready`: models
    already built, by model_key."""
    built: dict[tuple, object] = dict(ready or {})
    for e in chunk:
        if model_key(e) not in built:
            built[model_key(e)] = build_model(e.model, info.input_shape, info.num_classes, e.train.loss, e.seed)
    models = [built[model_key(e)] for e in chunk]
    members = [member_of(e, m, kinds) for e, m in zip(chunk, models)]
    return models, members, program_of(chunk[0], models[0], kinds)


def population_of_model(exp: Experiment, model, rules: StepRules | None = None) -> Population:
    """A user's Keras model (ml.fit) as a population of one; rules: its Keras optimizer's extras."""
    program = dataclasses.replace(program_of(exp, model), rules=rules)
    return Population([exp], 1, [model], [member_of(exp, model)], program, ModelFacts.of(model),
                      shares_compiled=False)


def diverged_rule_for(data: Dataset, loss: str):
    """The status rule's divergence test (analysis.status) for this data, as the engine asks it."""
    return divergence_rule(data.info.num_classes, data.info.class_counts.get("train"), loss)


def train_population(population: Population, data: Dataset, callbacks: list = (), diverged: bool = True):
    """Train a population: its outcomes. No store involved; the package's one call of engine.train.
    callbacks: engine.train's (engine.callbacks); `diverged`: stop a member the status rule calls diverged
    (analysis.status; the scikit-learn estimator trains without it). The memory is checked first (a user's
    model, ml.fit's, is built already: its parameters counted); a batch larger than the training rows
    trains on all of them at once, as in Keras."""
    p = population
    check_memory(p.experiments[0], data, sum(w.size for w in p.members[0].trainable + p.members[0].non_trainable),
                 len(p.members))
    program = dataclasses.replace(p.program, batch_size=min(p.program.batch_size, len(data.x_train)))
    rule = [LambdaCallback(diverged=diverged_rule_for(data, p.program.loss))] if diverged else []
    return train(program, p.members, data, [*rule, *callbacks], compiled=p.compiled(data.info))
