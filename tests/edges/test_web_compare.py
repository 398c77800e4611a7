"""The compare and sweep pages write spec values as a reader expects (issue #14): booleans as true/false,
and no model.hidden (activation, dropout, batchnorm) for a model written with model.layers, which ignores
them. Runs are stored without training: these pages read only specs, statuses and histories."""
import re

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from mlplab.spec import validate  # noqa: E402
from mlplab.store import Store  # noqa: E402
from mlplab.web import create_app  # noqa: E402

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

CNN = [{"type": "conv2d", "filters": 4}, {"type": "max_pool"}, {"type": "flatten"}, {"type": "dense", "units": 8}]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="module")
def ids(store):
    specs = {"mlp16": {"model": {"hidden": [16]}},
             "mlp32-bn": {"model": {"hidden": [32], "batchnorm": True}},
             "cnn": {"data": {"dataset": "mnist"}, "model": {"layers": CNN}}}
    out = {}
    for name, raw in specs.items():
        spec = validate({"name": name, "data": {"dataset": "digits"}, **raw}).resolved()
        out[name] = store.create_run(name=name, spec=spec, dataset=spec["data"]["dataset"])
        store.log_epoch(out[name], 1, {"loss": 1.0, "accuracy": 0.5}, 1.0)
        store.set_status(out[name], "ok")
    return out


@pytest.fixture(scope="module")
def client(store):
    app = create_app(store.home, token="t")
    with TestClient(app, base_url="http://127.0.0.1:8765", headers={"Authorization": "token t"}) as c:
        yield c


def rows(page: str) -> dict[str, list[str]]:
    """The spec-differences rows of a compare page: key -> its cells' text."""
    return {key: re.findall(r"<td[^>]*>([^<]*)</td>", cells) for key, cells in
            re.findall(r'<tr class="diff"><td><code>([^<]+)</code></td>(.*?)</tr>', page)}


def test_a_layers_model_shows_no_shorthand_keys(client, ids):
    diff = rows(client.get(f"/compare?run={ids['mlp16']}&run={ids['cnn']}").text)
    assert "model.layers" in diff and diff["data.dataset"] == ["digits", "mnist"]
    assert not {"model.hidden", "model.activation", "model.dropout", "model.batchnorm"} & set(diff), diff


def test_a_shorthand_key_the_other_runs_differ_in_is_not_used_by_the_layers_model(client, ids):
    diff = rows(client.get(f"/compare?run={ids['mlp16']}&run={ids['mlp32-bn']}&run={ids['cnn']}").text)
    assert diff["model.hidden"] == ["[16]", "[32]", "not used: model.layers"]
    assert diff["model.batchnorm"] == ["false", "true", "not used: model.layers"]   # words, not 0/1
    assert "model.activation" not in diff   # both MLPs use relu


def test_two_mlps_compare_as_before(client, ids):
    diff = rows(client.get(f"/compare?run={ids['mlp16']}&run={ids['mlp32-bn']}").text)
    assert diff == {"model.batchnorm": ["false", "true"], "model.hidden": ["[16]", "[32]"]}


def test_sweep_pages_write_booleans_as_words(client, store, ids):
    sweep = store.create_sweep(name="bn sweep", spec={})
    cells = [({"model.batchnorm": bn, "train.learning_rate": lr}, ids["mlp32-bn" if bn else "mlp16"])
             for bn in (True, False) for lr in (0.01, 0.001)]
    table = [{"values": v, "runs": [r], "val_accuracy": 0.5 + i / 10, "status": "ok", "rank": 4 - i}
             for i, (v, r) in enumerate(cells)]
    store.finish_sweep(sweep, status="ok", summary={"keys": ["model.batchnorm", "train.learning_rate"],
                                                    "rows": table, "best": table[-1], "ranked_by": "val_accuracy"})
    page = client.get(f"/sweeps/{sweep}").text
    table_html = re.search(r'id="sweep-table".*?</table>', page, re.S).group(0)
    rows_html = re.findall(r"<tr><td data-v=\"\d\">\d</td><td data-v=\"([^\"]*)\">([^<]*)</td>", table_html)
    assert sorted(rows_html) == [("false", "false")] * 2 + [("true", "true")] * 2
    heat = re.search(r'id="heatmap".*?</table>', page, re.S).group(0)
    assert "<th>true</th>" in heat and "<th>false</th>" in heat
    listing = client.get("/sweeps").text
    assert "batchnorm = false, learning_rate = 0.001" in listing
