"""The package's shape: each folder one stage of the data flow, importing only from earlier stages.

    errors, catalog -> spec -> data -> engine -> analysis -> store -> stored -> training -> present -> the edges
    (cli, api, sklearn, predict, export, web)

A module may import from its own stage and the stages before it, never a later one, and never
a private name (`_x`) of another module. Readers read stored runs through `stored/` (the read model):
only the edges that start training import `training/`. No import cycle, not even inside a folder or
through a function-level import. Only the engine (and what trains or predicts) imports JAX/Keras, so
validating a spec and `mlplab --help` stay instant.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mlplab"
STAGES = ["errors catalog", "spec", "data", "engine", "analysis", "store", "stored", "training", "present",
          "cli api sklearn predict export web __init__ __main__"]
STAGE = {name: i for i, names in enumerate(STAGES) for name in names.split()}


# The modules outside training/ that start training (they import training/ inside the calls that train);
# every other reader of a run reads it through stored/.
STARTS_TRAINING = {
    "mlplab.cli.train": "mlplab run, mlplab sweep",
    "mlplab.cli.inspect": "mlplab doctor --fix",
    "mlplab.api.stored_run": "ml.run, Run.repair()",
    "mlplab.api.stored_sweep": "ml.sweep",
    "mlplab.api.keras_fit": "ml.fit",
    "mlplab.sklearn": "MLPClassifier.fit",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> int:
    parts = module.split(".")
    return STAGE[parts[1] if len(parts) > 1 else "__init__"]


def imports(path: Path):
    """(line, imported module, names) for every mlplab import in a file, function-level ones too."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mlplab"):
                    yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mlplab"):
                yield node.lineno, target, [a.name for a in node.names]


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_stage():
    for path in modules():
        stage_of(module_name(path))  # KeyError: a folder the layout does not know


def test_no_module_imports_from_a_later_stage():
    wrong = []
    for path in modules():
        me = module_name(path)
        for line, target, names in imports(path):
            targets = [f"mlplab.{n}" if target == "mlplab" and n in STAGE else target for n in names or [None]]
            for t in targets:
                if stage_of(t) > stage_of(me):
                    wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} {me} -> {t}")
    assert wrong == []


def test_no_module_imports_a_private_name_of_another():
    wrong = []
    for path in modules():
        me = module_name(path)
        for line, target, names in imports(path):
            if target != me:
                wrong += [f"{path.relative_to(PACKAGE.parent)}:{line} {target}.{n}" for n in names
                          if n.startswith("_") and not n.startswith("__")]
    assert wrong == []


def test_no_module_over_about_400_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in modules() if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}


@pytest.mark.slow
@pytest.mark.parametrize("code", [
    "from mlplab.spec import load_spec; load_spec(None, ['train.epochs=3']).resolved()",
    "from mlplab.cli import parser; parser()",
    "from mlplab.store import Store",
    "from mlplab.stored import RunArtifacts, load_findings; import mlplab.stored.repair_report",
    "from mlplab.analysis.doctor import diagnose",
])
def test_no_jax_where_nothing_trains(code):
    check = f"{code}\nimport sys\nbad = sorted(m for m in ('jax', 'keras') if m in sys.modules)\nassert not bad, bad"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]


def test_no_function_over_about_60_lines():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 65:
                long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}")
    assert long == []


def module_of(target: str, name: str | None) -> str:
    """The module an import of `name` from `target` loads: the submodule target.name when there is one."""
    sub = f"{target}.{name}"
    return sub if name and (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists() else target


def import_graph() -> dict[str, set[str]]:
    """module -> the mlplab modules it imports (function-level imports included), itself left out."""
    graph = {}
    for path in modules():
        me = module_name(path)
        graph[me] = {module_of(target, n) for _, target, names in imports(path) for n in names or [None]} - {me}
    return graph


def test_only_the_edges_that_start_training_import_training():
    importers = {me for me, targets in import_graph().items() if stage_of(me) != STAGE["training"]
                 and any(t.split(".")[:2] == ["mlplab", "training"] for t in targets)}
    assert sorted(importers - set(STARTS_TRAINING)) == []   # a reader: read the run through stored/
    assert sorted(set(STARTS_TRAINING) - importers) == []   # no longer starts training: off the list


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_cycles_finds_a_cycle_inside_a_folder_and_none_in_a_chain():
    assert cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "b": {"a.x"}}) == [["a.x", "a.y", "a.z"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_engine_imports_nothing_from_spec():
    """The engine takes plain values (and reads a validated model section by attribute)."""
    wrong = sorted(f"{me} -> {t}" for me, targets in import_graph().items() for t in targets
                   if me.startswith("mlplab.engine") and t.startswith("mlplab.spec"))
    assert wrong == []
