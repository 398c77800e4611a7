"""A run page's Repair (issue #12): POST /runs/{id}/repair queues `mlplab doctor RUN --fix` as a dashboard
job (CSRF-protected, one job at a time, stoppable), and the run page shows the stored repair.json.

The faulty run: digits with raw pixels (scale none) and SGD at 0.1, 3 epochs of a 16-unit net: it diverges,
and a repair answers with the candidate that trains best on validation (as tests/training/test_doctor_repair.py checks
on the CLI); the run page shows that answer first, above the findings.
"""
import html
import re
import subprocess
import sys

import pytest

pytest.importorskip("fastapi")

import mlplab as ml  # noqa: E402
from mlplab.cli import main  # noqa: E402
from mlplab.store import Store  # noqa: E402
from mlplab.stored import load_findings  # noqa: E402
from mlplab.stored.repair_report import Candidate, RepairReport, first_fix, noise  # noqa: E402
from mlplab.web import create_app  # noqa: E402
from mlplab.web import jobs as jobs_module  # noqa: E402
from conftest import wait_for  # noqa: E402
from test_web_jobs import client_of  # noqa: E402

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

STAND_IN = """
import ctypes, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)   # as jobs.LAUNCH
ctypes.CDLL(None).prctl(1, int(signal.SIGINT))
from mlplab.store import Store

store = Store(sys.argv[1])
store.create_run(name="stand-in candidate", spec={}, dataset="digits")
store.close()
time.sleep(120)
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("web-repair")


@pytest.fixture(scope="module")
def faulty(home):
    run = ml.run(None, {"data.scale": "none", "train.optimizer": "sgd", "train.learning_rate": 0.1,
                        "train.epochs": 3, "model.hidden": [16]}, store=home, progress=False)
    assert run.findings and run.findings[0].code == "unscaled_inputs"   # then the rate (diverged on raw pixels)
    return run.id


def test_repair_is_refused_without_the_csrf_token(home, faulty, capsys):
    app = create_app(home, token="t")
    with client_of(app, csrf=False) as c:
        page = c.get(f"/runs/{faulty}").text
        assert 'id="repair-run"' in page   # the doctor has fixes: the button is there
        # the first fix to try, as `mlplab doctor` prints it: one definition (candidate_fixes) for both views
        first = first_fix(load_findings(Store(home), faulty))
        assert f'<code id="first-fix">{first}</code>' in page and first.startswith("--set data.scale=unit")
        r = c.post(f"/runs/{faulty}/repair", follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text
        r = c.post(f"/runs/{faulty}/repair", data={"_csrf": "wrong"}, follow_redirects=False)
        assert r.status_code == 403
    assert app.state.jobs.jobs == {}   # nothing was queued
    capsys.readouterr()
    assert main(["--home", str(home), "doctor", faulty]) == 0
    assert f"First to try: {first}" in " ".join(capsys.readouterr().out.split())   # however rich wraps it


def test_a_repair_can_be_stopped_and_its_runs_are_not_left_running(home, faulty, monkeypatch):
    def spawn(self, job):   # a stand-in for `mlplab doctor RUN --fix`: creates a candidate run, then sleeps
        assert job.args == ["doctor", faulty, "--fix"]
        with open(job.log_path, "wb") as log:
            return subprocess.Popen([sys.executable, "-c", STAND_IN, str(self.home)],
                                    start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    monkeypatch.setattr(jobs_module.Jobs, "_spawn", spawn)
    app = create_app(home, token="t")
    store = app.state.store
    with client_of(app) as c:
        r = c.post(f"/runs/{faulty}/repair", follow_redirects=False)
        assert r.status_code == 303
        job = r.headers["location"].split("/")[-1]
        again = c.post(f"/runs/{faulty}/repair")
        assert again.status_code == 400 and f"repair of run {faulty}: already" in again.text
        assert wait_for(lambda: c.get(f"/api/jobs/{job}").json()["run_id"])
        doc = c.get(f"/api/jobs/{job}").json()
        assert doc["repair_of"] == faulty and doc["stoppable"]
        assert f'href="/jobs/{job}"' in c.get(f"/runs/{faulty}").text   # the run page links to its repair
        assert 'id="repair-run"' not in c.get(f"/runs/{faulty}").text
        candidate = doc["run_id"]
        c.post(f"/jobs/{job}/stop", headers={"Accept": "application/json"})
        assert wait_for(lambda: c.get(f"/api/jobs/{job}").json()["state"] == "done")
        assert c.get(f"/api/jobs/{job}").json()["error"] == "stopped from the dashboard"
        assert store.get_run(candidate)["status"] == "interrupted"
        assert store.get_run(faulty)["status"] == "diverged"   # the repaired run is left as it was
        # what a stopped repair stores: interrupted candidates are not judged, the page says so
        cut = Candidate({"data.scale": "unit"}, "--set data.scale=unit", "unscaled_inputs", run_id=candidate,
                        status="interrupted", test_accuracy=0.9, problems=["interrupted"])
        never = Candidate({"train.learning_rate": 0.01}, "--set train.learning_rate=0.01", "lr_too_high")
        store.write_json(faulty, "repair.json", RepairReport(faulty, "diverged", 0.1, ["unscaled_inputs"],
                                                             [cut, never]).to_dict())
        page = c.get(f"/runs/{faulty}").text
        assert re.search(r'id="repair-verdict">the repair was stopped before its candidates finished', page)
        words = re.findall(r'<td class="verdict-word">([^<]*)</td>', page)
        assert words == ["stopped before it finished", "not trained: the repair was stopped"]
        assert 'id="repair-run">Repair again<' in page


def test_a_repair_job_ends_and_the_run_page_shows_its_result(home, faulty):
    app = create_app(home, token="t")
    store = Store(home)
    before = store.get_run(faulty)["test_accuracy"]
    with client_of(app) as c:
        r = c.post(f"/runs/{faulty}/repair", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
        job = r.headers["location"].split("/")[-1]
        assert "repair of" in c.get(f"/jobs/{job}").text
        assert wait_for(lambda: c.get(f"/api/jobs/{job}").json()["state"] == "done", 90)
        doc = c.get(f"/api/jobs/{job}").json()
        assert (doc["returncode"], doc["error"]) == (0, None), doc["log"]
        page = c.get(f"/runs/{faulty}").text
    verdict = html.unescape(re.search(r'id="repair-verdict">([^<]*)<', page).group(1))
    rows = re.findall(r'<tr class="repair-candidate( best)?"><td><code>([^<]*)</code></td><td>([^<]*)</td>'
                      r'<td><a href="/runs/([^"]+)">([^<]*)</a></td><td class="num">([^<]*)</td>'
                      r'<td class="num">([^<]*)</td><td class="num test-after">([^<]*)</td><td>([^<]*)</td>'
                      r'<td class="verdict-word">([^<]*)</td>', page)
    assert len(rows) == 3, rows   # the default: three candidates
    assert "<th>validation accuracy before</th>" in page
    [(_, text, cause, run_id, status, val_before, val_after, test_after, problems, word)] = [r for r in rows if r[0]]
    assert verdict.startswith(f"the answer: {text}: validation accuracy {float(val_before):.4f} -> ")
    assert word.endswith("(the answer)") and status in ("ok", "stopped")
    repaired, original = store.get_run(run_id), store.get_run(faulty)
    assert float(val_before) == pytest.approx(original["summary"]["result"]["val_accuracy"], abs=1e-3)
    assert float(val_after) == pytest.approx(repaired["summary"]["result"]["val_accuracy"], abs=1e-3)
    assert float(test_after) == pytest.approx(repaired["test_accuracy"], abs=1e-3) and float(test_after) > before
    top = max(float(r[6]) for r in rows if r[4] in ("ok", "stopped"))
    assert top - float(val_after) <= noise(top, float(val_after), original["summary"]["data"]["n_val"])
    assert repaired["summary"]["repair_of"]["run"] == faulty
    assert all(r[9].split(" ")[0] in ("resolved", "improved", "did") for r in rows)
    # first on the page, above the findings: the repair's answer; the finding that suggested it says so
    answer = re.search(r'id="repair-answer">Repair\'s answer: <code>([^<]*)</code>', page)
    assert answer and answer.group(1) == text and page.index('id="repair-answer"') < page.index('class="finding ')
    # the candidate's own page points back (the answer may leave a warning: it is not judged by that), and a
    # run with nothing to fix (the default experiment) has no button and is refused
    healthy = ml.run(None, {}, store=home, progress=False).id
    with client_of(app) as c:
        page = c.get(f"/runs/{run_id}").text
        assert f'a repair of run <a href="/runs/{faulty}">{faulty}</a>' in page
        assert 'id="repair-run"' not in c.get(f"/runs/{healthy}").text
        r = c.post(f"/runs/{healthy}/repair")
        assert r.status_code == 400 and f"repair of run {healthy}: nothing to repair: the doctor finds no error or warning" in r.text
        assert c.post("/runs/nope/repair").status_code == 404


def copy_of(store, run_id: str, name: str, status: str, **finish) -> str:
    """A stored copy of a run (its spec, history and summary) that ended with `status`; `finish` replaces
    what finish_run is given (a summary, a test accuracy, ...)."""
    run = store.get_run(run_id)
    new = store.create_run(name=name, spec=run["spec"], dataset="digits")
    for epoch, values in enumerate(zip(*(run["history"][k] for k in ("loss", "accuracy"))), 1):
        store.log_epoch(new, epoch, {"loss": values[0], "accuracy": values[1]}, 0.1)
    store.finish_run(new, status=status, **{
        "epochs_run": run["epochs_run"], "best_epoch": None, "seconds": 1.0, "test_loss": run["test_loss"],
        "test_accuracy": run["test_accuracy"], "params": run["params"], "warnings": [], "summary": run["summary"],
        "error": "gone" if status != "diverged" else None, **finish})
    return new


def test_a_run_of_your_own_keras_model_has_no_repair(home, faulty):
    store = Store(home)
    own = copy_of(store, faulty, "own keras model", "diverged", test_loss=None, test_accuracy=0.1, params=None,
                  summary={"keras_model": {"spec_is_exact": False}})
    app = create_app(home, token="t")
    with client_of(app) as c:
        assert 'id="repair-run"' not in c.get(f"/runs/{own}").text
        r = c.post(f"/runs/{own}/repair")
        assert r.status_code == 400 and "your own Keras model, which mlplab cannot rebuild from its spec" in r.text
    assert app.state.jobs.jobs == {}


def test_a_repair_that_found_nothing_says_so_above_the_findings_and_marks_the_suggestion_it_tried(home, faulty):
    store = Store(home)
    run_id = copy_of(store, faulty, "nothing helped", "diverged")
    run = store.get_run(run_id)
    val = run["summary"]["result"]["val_accuracy"]
    tried = Candidate({"data.scale": "unit"}, "--set data.scale=unit", "unscaled_inputs", run_id=faulty,
                      status="diverged", test_accuracy=0.1, problems=["diverged"], val_accuracy=0.1)
    same = Candidate({"train.learning_rate": 0.01}, "--set train.learning_rate=0.01", "lr_too_high", run_id=faulty,
                     status="ok", test_accuracy=val + 0.005, val_accuracy=val + 0.005)
    store.write_json(run_id, "repair.json", RepairReport(run_id, "diverged", run["test_accuracy"], ["unscaled_inputs"],
                                                         [tried, same], val_accuracy=val, measure="val_accuracy",
                                                         rows=143).to_dict())
    app = create_app(home, token="t")
    with client_of(app) as c:
        page = c.get(f"/runs/{run_id}").text
    line = re.search(r'id="repair-answer">([^\n]*)</p>', page).group(1)
    assert line.startswith("Repair found no fix that helped: it tried <code>--set data.scale=unit</code>, "
                           "<code>--set train.learning_rate=0.01</code>; no candidate helped")
    assert page.index('id="repair-answer"') < page.index('class="finding ')
    tried_marks = dict((m.group(1), m.group(3)) for m in
                       re.finditer(r'<b>Try:</b> <code>([^<]*)</code>( <span class="note tried">([^<]*)</span>)?', page))
    assert tried_marks["--set data.scale=unit"] == "the repair tried it: did not help (diverged)"
    assert re.search(r'id="repair-verdict">no candidate helped', page) and "(the answer)" not in page


@pytest.mark.parametrize("status", ["lost", "failed", "interrupted"])
def test_a_run_that_did_not_finish_has_no_repair(home, faulty, status):
    store = Store(home)
    run_id = copy_of(store, faulty, f"{status} run", status)
    app = create_app(home, token="t")
    with client_of(app) as c:
        assert 'id="repair-run"' not in c.get(f"/runs/{run_id}").text
        r = c.post(f"/runs/{run_id}/repair")
        assert r.status_code == 400 and "run it again" in r.text
    assert app.state.jobs.jobs == {}
