"""The Python API: everything the CLI does, in a few lines of a notebook.

    import mlplab as ml
    ds = ml.load_dataset("digits")
    run = ml.run(train__learning_rate=0.01, epochs=5)   # or ml.run("spec.toml", {"model.hidden": [128]})
    run.history                       # a pandas DataFrame, one row per epoch
    run.findings                      # what the doctor says (an HTML table in Jupyter)
    run.learning_curves()             # one method per figure of the report (or run.figure("learning-curves"))
    run.report("run.html")
    sw = ml.sweep(grid={"train.learning_rate": [0.001, 0.01, 0.1]}, epochs=5)
    ml.runs()                         # the store as a DataFrame
    run = ml.fit(my_keras_model, "digits", epochs=5)     # any Keras 3 model, mlplab's engine

Overrides are spec keys: dotted in a dict ({"train.learning_rate": 0.01}),
with `__` for dots as keyword arguments (train__learning_rate=0.01), or a bare
field name when it names one field of one section (epochs=5, hidden=[128]).

Every call that reads or writes runs takes `store=`; without it the session's home is used:
`ml.set_home(folder)`, else $MLPLAB_HOME, else ./mlplab-runs (`ml.home()` says which; see api.home).

    home          the store a call uses: set_home, home
    inputs        overrides and data sets: load_dataset
    progress      one updating line per training: Progress
    stored_run    Run, Findings, run, load_run, runs
    stored_sweep  Sweep, sweep, load_sweep, sweeps
    keras_fit     fit (any Keras model), describe_keras
    help          help (what an optimizer takes: each parameter, its default and what it does)
"""
from .help import help
from .home import home, set_home
from .inputs import TOP_LEVEL, load_dataset
from .inputs import raw_spec as _raw   # the older private name (tests)
from .keras_fit import describe_keras, fit
from .progress import Progress
from .stored_run import Findings, Run, load_run, run, runs
from .stored_sweep import Sweep, load_sweep, sweep, sweeps

__all__ = ["load_dataset", "run", "sweep", "fit", "runs", "sweeps", "load_run", "load_sweep", "set_home", "home",
           "help", "Run", "Sweep", "Findings"]
