"""A run's health (the doctor's verdict) next to its status in every list: one definition
(analysis.health), diagnosed once per run and kept with it (store.health), the same in `runs --json`,
the dashboard's /api/runs and pages, the API's runs table, the sweep tables and Try it."""
import contextlib
import os
import re
import shutil
import sqlite3

import pytest
from conftest import cli_json

import mlplab as ml
import mlplab.analysis.doctor as doctor
from mlplab.analysis.doctor import Finding
from mlplab.analysis.health import (HEALTHY, LEVELS, PENDING, combined, health, of_run, unhealthy, version,
                                    with_health)
from mlplab.store import Store


def finding(severity: str, title: str, code: str = "x") -> Finding:
    return Finding(code=code, severity=severity, title=title, epoch=None, evidence={}, explanation="",
                   suggestion="")


# ---------------------------------------------------------------- the pure function

def test_no_findings_is_ok_with_a_healthy_headline():
    assert health([]) == {"health": "ok", "headline": HEALTHY}


def test_health_is_the_most_severe_finding_and_the_headline_its_first_title():
    found = [finding("info", "Few epochs"), finding("warning", "Overfitting"), finding("error", "Diverged"),
             finding("error", "Stuck"), finding("warning", "Dead units")]
    assert health(found) == {"health": "error", "headline": "Diverged"}
    assert health([finding("info", "A note")]) == {"health": "info", "headline": "A note"}
    assert health([finding("info", "A note"), finding("warning", "Too few epochs")]) == \
        {"health": "warning", "headline": "Too few epochs"}


def test_findings_as_dicts_give_the_same_health():
    found = [finding("warning", "Overfitting"), finding("error", "Learning rate too high")]
    assert health([f.to_dict() for f in found]) == health(found) == {"health": "error",
                                                                    "headline": "Learning rate too high"}


def test_a_running_run_has_no_health_until_it_ends():
    assert of_run({"status": "running", "history": {}}, None) == PENDING == {"health": None, "headline": None}


def test_a_sweep_row_is_as_healthy_as_its_least_healthy_run():
    ok, warn, err = ({"health": w, "headline": w.title()} for w in ("ok", "warning", "error"))
    assert combined([ok, err, warn]) == err and combined([ok, warn]) == warn and combined([ok]) == ok
    assert combined([PENDING, warn]) == warn and combined([PENDING]) == PENDING and combined([]) == PENDING
    rows = with_health([{"runs": ["a", "b"]}, {"runs": ["c"]}, {"runs": ["gone"], "health": "info"}],
                       [{"id": "a", **ok}, {"id": "b", **err}, {"id": "c", **ok}])
    assert [r["health"] for r in rows] == ["error", "ok", "info"]   # a row without stored runs keeps its own


def test_unhealthy_means_a_warning_or_an_error():
    assert [unhealthy({"health": w}) for w in (*LEVELS, None)] == [False, False, True, True, False]


def test_the_stored_version_follows_the_doctor_s(monkeypatch):
    before = version()
    monkeypatch.setattr(doctor, "DOCTOR_VERSION", doctor.DOCTOR_VERSION + 1)
    assert version() != before and str(doctor.DOCTOR_VERSION) in version()


# ---------------------------------------------------------------- one store, every view

SWEEP = """
name = "health"
[data]
dataset = "digits"
[model]
hidden = [16]
[train]
epochs = 2
early_stopping = false
[sweep]
repeats = 2
variants = { good = { "train.learning_rate" = 0.01 }, blows-up = { "data.scale" = "none", "train.optimizer" = "sgd", "train.learning_rate" = 10.0 } }
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A sweep of two variants (a good digits net; SGD at lr 10 on raw pixels, which diverges), two seeds
    each, and its table as `mlplab sweep --json` printed it."""
    home = tmp_path_factory.mktemp("health")
    (home / "sweep.toml").write_text(SWEEP)
    table = cli_json("--home", str(home / "store"), "sweep", str(home / "sweep.toml"))
    return home / "store", table


@pytest.fixture
def store_copy(trained, tmp_path):
    """A copy of the trained store, to change verdicts in without touching the others' tests."""
    home = tmp_path / "store"
    with contextlib.closing(sqlite3.connect(trained[0] / "runs.db")) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # all in runs.db: a read-only copy reads that file alone
    shutil.copytree(trained[0], home)
    return home


def client_of(home):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from mlplab.web import create_app
    return TestClient(create_app(home, token="t"), base_url="http://127.0.0.1:8765",
                      headers={"Authorization": "token t"})


def verdicts(rows) -> dict:
    return {r["id"]: (r["health"], r["headline"]) for r in rows}


@pytest.mark.slow
def test_every_list_shows_the_same_health(trained):
    home, sweep_json = trained
    listed = cli_json("--home", str(home), "runs")
    by_cli = verdicts(listed)
    assert len(by_cli) == 4 and all(h in LEVELS and headline for h, headline in by_cli.values())
    statuses = {r["id"]: r["status"] for r in listed}
    assert all(by_cli[i][0] == "error" for i, s in statuses.items() if s == "diverged") and "diverged" in \
        statuses.values()   # the doctor never calls a diverged run healthy
    api = ml.runs(store=str(home))
    assert verdicts(api.to_dict("records")) == by_cli
    assert verdicts(cli_json("--home", str(home), "runs", "--sweep", "last")) == by_cli
    with client_of(home) as client:
        assert verdicts(client.get("/api/runs").json()) == by_cli
        page = client.get("/").text
        for run_id, (word, headline) in by_cli.items():
            row = re.search(rf'<tr>(?:(?!</tr>).)*?/runs/{run_id}".*?</tr>', page, re.S).group(0)
            assert f'<span class="health health-{word}"' in row
        # the sweep table, as the CLI printed it, the Python API and the dashboard show it
        sweep_id = sweep_json["sweep_id"]
        expected = [combined([{"health": by_cli[i][0], "headline": by_cli[i][1]} for i in row["runs"]])
                    for row in sweep_json["rows"]]
        assert [{"health": r["health"], "headline": r["headline"]} for r in sweep_json["rows"]] == expected
        table = ml.load_sweep(sweep_id, store=str(home)).table
        assert [{"health": h, "headline": t} for h, t in zip(table["health"], table["headline"])] == expected
        web_rows = client.get(f"/api/sweeps/{sweep_id}").json()["summary"]["rows"]
        assert [{"health": r["health"], "headline": r["headline"]} for r in web_rows] == expected
        page = client.get(f"/sweeps/{sweep_id}").text
        shown = re.findall(r'<span class="health health-(\w+)"', page.split('id="sweep-table"')[1].split("</table>")[0])
        assert shown == [e["health"] for e in expected]


@pytest.mark.slow
def test_health_is_stored_with_the_run_and_not_diagnosed_again(trained, monkeypatch):
    home, _ = trained
    Store(home).list_runs()
    with sqlite3.connect(home / "runs.db") as con:
        stored = con.execute("SELECT health, headline, health_version FROM runs").fetchall()
    assert len(stored) == 4 and all(h in LEVELS and v == version() for h, _, v in stored)

    def no_doctor(*args):
        raise AssertionError("diagnosed a run whose health is stored and current")
    monkeypatch.setattr(doctor, "diagnose", no_doctor)
    assert verdicts(Store(home).list_runs()) == verdicts(cli_json("--home", str(home), "runs"))


@pytest.mark.slow
def test_a_stale_doctor_version_is_diagnosed_again_once(store_copy, monkeypatch):
    """The doctor is recalibrated (a new DOCTOR_VERSION): a run that ended `ok` after learning little now
    gets an error, and every list says so without a new run; each run is diagnosed once."""
    calls = []

    def recalibrated(run, stats=None):
        calls.append(run["id"])
        assert run["history"]["epoch"] == [1, 2]   # the doctor reads the run with its history
        return [finding("error", "Learned little: near chance on 10 classes", "learned_little")]
    monkeypatch.setattr(doctor, "DOCTOR_VERSION", doctor.DOCTOR_VERSION + 1)
    monkeypatch.setattr(doctor, "diagnose", recalibrated)
    listed = cli_json("--home", str(store_copy), "runs")
    assert sorted(calls) == sorted(r["id"] for r in listed)   # each run once
    assert {(r["health"], r["headline"]) for r in listed} == {("error", "Learned little: near chance on 10 classes")}
    assert any(r["status"] == "ok" for r in listed)   # a green ok no longer hides it
    with sqlite3.connect(store_copy / "runs.db") as con:
        assert {v for (v,) in con.execute("SELECT health_version FROM runs")} == {version()}
    calls.clear()
    cli_json("--home", str(store_copy), "runs")
    ml.runs(store=str(store_copy))
    assert calls == []   # stored and current: read, not diagnosed


@pytest.mark.slow
def test_a_read_only_store_lists_health_without_writing(store_copy, monkeypatch):
    monkeypatch.setattr(doctor, "DOCTOR_VERSION", doctor.DOCTOR_VERSION + 1)
    monkeypatch.setattr(doctor, "diagnose", lambda run, stats=None: [finding("warning", "Too few epochs")])
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(store_copy) else real_access(p, mode))
    ro = Store(store_copy)
    assert ro.readonly
    assert {(r["health"], r["headline"]) for r in ro.list_runs()} == {("warning", "Too few epochs")}
    with sqlite3.connect(store_copy / "runs.db") as con:   # nothing written: the old verdicts stay
        assert version() not in {v for (v,) in con.execute("SELECT health_version FROM runs")}


def test_a_read_only_store_from_before_health_is_still_listed(tmp_path, monkeypatch):
    from mlplab.store import database
    with monkeypatch.context() as m:   # a store made by the mlplab before health was stored (schema 2)
        m.setattr(database, "MIGRATIONS", database.MIGRATIONS[:2])
        m.setattr(database, "SCHEMA_VERSION", 2)
        old = Store(tmp_path)
        run_id = old.create_run(name="old", spec={}, dataset="digits")
        with old._tx() as c:
            c.execute("UPDATE runs SET status = 'failed', error = 'boom' WHERE id = ?", (run_id,))
        old.close()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    ro = Store(tmp_path)
    [run] = ro.list_runs()
    assert ro.readonly and run["status"] == "failed" and run["health"] == "error"


def test_a_running_run_has_none_and_is_diagnosed_when_it_ends(tmp_path):
    store = Store(tmp_path)
    run_id = store.create_run(name="x", spec={}, dataset="digits")
    assert verdicts(store.list_runs()) == {run_id: (None, None)}
    assert verdicts(cli_json("--home", str(tmp_path), "runs")) == {run_id: (None, None)}
    store.set_status(run_id, "failed", error="boom")   # clears what was stored: diagnosed on the next read
    [run] = store.list_runs()
    assert run["health"] == "error" and store.get_run(run_id)["health"] == "error"


@pytest.mark.slow
def test_try_it_warns_about_a_run_that_ended_ok_but_is_unhealthy(store_copy, monkeypatch):
    """Try it's picker labels each run with its health, and by default picks the newest run whose status
    and health are both good; the page carries the verdict its warning shows."""
    good = [r for r in Store(store_copy).list_runs() if r["status"] == "ok"]
    newest, older = good[0]["id"], good[1]["id"]
    monkeypatch.setattr(doctor, "DOCTOR_VERSION", doctor.DOCTOR_VERSION + 1)
    monkeypatch.setattr(doctor, "diagnose", lambda run, stats=None: [finding("error", "Learned little")]
                        if run["id"] == newest else [])
    with client_of(store_copy) as client:
        page = client.get("/try").text
        options = dict(re.findall(r'<option value="([^"]+)"([^>]*>[^<]*)</option>', page))
        assert set(options) == {newest, older}   # the runs whose training ended well, as before
        assert 'data-health="error" data-headline="Learned little"' in options[newest]
        assert "health error" in options[newest] and "health ok" in options[older]
        assert re.findall(r'<option value="([^"]+)"[^>]*selected', page) == [older]
        page = client.get(f"/try?run={newest}").text   # asked for: opened, with the verdict to warn about
        assert re.findall(r'<option value="([^"]+)"[^>]*selected', page) == [newest]
        assert page.count(f'<option value="{newest}"') == 1 and 'id="try-warning"' in page
