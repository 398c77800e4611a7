"""Derived views computed once: a run's figures, its t-SNE and its report are stored the first time
they are asked for, served from the store afterwards, and made again only when the run changes."""
import io
import re
import threading
import time
from dataclasses import replace

import pytest

from conftest import SAFETY_NET
from matplotlib.figure import Figure

from mlplab.present import run_report, views
from mlplab.present.registry import REGISTRY, figure_for, figure_png
from mlplab.present.run_report import write_report
from mlplab.present.stored_figure import StoredFigure
from mlplab.spec import load_spec
from mlplab.store import Store
from mlplab.stored import RunArtifacts
from mlplab.training.runner import run_experiment

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

TINY = ["train.epochs=2", "model.hidden=[16]"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def run_id(store):
    return run_experiment(load_spec(None, TINY), store).run_id


@pytest.fixture
def fresh(store, run_id):
    """The run with no stored views (each test starts cold)."""
    folder = store.artifact_dir(run_id)
    for path in (folder / "views").glob("*"):
        path.unlink()
    (folder / "report.html").unlink(missing_ok=True)
    return RunArtifacts(store, store.get_run(run_id))


def stored_files(art, name=""):
    return sorted(p.name for p in (art.folder / "views").glob(f"{name}*") if not p.name.startswith("."))


def saved(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})   # as the dashboard saves it
    return buf.getvalue()


def test_a_figure_is_drawn_once_then_served_from_the_store(fresh, store, run_id):
    first = figure_for(fresh, "confusion-matrix")
    assert isinstance(first, Figure) and first.drawn            # a miss: drawn now, its PNG stored
    [file] = stored_files(fresh, "confusion-matrix")
    png = (fresh.folder / "views" / file).read_bytes()
    assert saved(first) == png

    again = figure_for(RunArtifacts(store, store.get_run(run_id)), "confusion-matrix")   # a new request
    assert isinstance(again, StoredFigure) and not again.drawn
    assert saved(again) == png and not again.drawn               # served as stored: nothing drawn, no data read
    assert again.axes and again.drawn                            # used as a figure: drawn then
    again.canvas.draw()
    assert figure_png(fresh, "confusion-matrix") == png


def test_a_stored_figure_saves_as_any_figure(fresh, tmp_path):
    figure_for(fresh, "learning-curves")
    fig = figure_for(fresh, "learning-curves")
    fig.savefig(tmp_path / "a.png", dpi=80)
    assert (tmp_path / "a.png").read_bytes() == fig.stored_png and not fig.drawn   # a file path, same bytes
    fig.savefig(tmp_path / "b.png")                                  # another resolution: drawn and rendered
    fig.savefig(tmp_path / "c.svg", dpi="figure")
    assert fig.drawn and (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    assert "StoredFigure" in repr(fig)


def test_a_changed_figure_is_rendered_again(fresh):
    figure_for(fresh, "learning-curves")
    fig = figure_for(fresh, "learning-curves")
    fig.axes[0].set_title("my title")
    assert saved(fig) != fig.stored_png


def test_options_are_part_of_the_key(fresh):
    a = figure_png(fresh, "mistakes")
    b = figure_png(fresh, "mistakes", n=4)
    assert a != b and len(stored_files(fresh, "mistakes")) == 2
    assert figure_png(fresh, "mistakes", n=16) == a            # the default, spelled out: the same view


def test_a_changed_run_invalidates_its_views(fresh, store, run_id, monkeypatch):
    made = []

    def assemble(art, findings, embed_samples, key):   # the page without its figures: this test is about keys
        made.append(art.run["status"])
        return f'<html><head><meta name="mlplab-view" content="{key}"></head>{art.run["status"]}</html>'
    monkeypatch.setattr(run_report, "assemble", assemble)
    figure_png(fresh, "learning-curves")
    path = write_report(store, run_id)
    assert write_report(store, run_id) == path and made == ["ok"]      # served, not made again
    old = stored_files(fresh)

    store.set_status(run_id, "interrupted")                     # the run changes: every view is stale
    try:
        changed = RunArtifacts(store, store.get_run(run_id))
        figure_png(changed, "learning-curves")
        assert not set(old) & set(stored_files(changed))        # the stale views are gone
        write_report(store, run_id)
        assert made == ["ok", "interrupted"] and "interrupted" in path.read_text()
    finally:
        store.set_status(run_id, "ok")


def test_a_running_run_is_never_cached(fresh):
    running = RunArtifacts(fresh.store, {**fresh.run, "status": "running"})
    fig = figure_for(running, "learning-curves")
    assert not isinstance(fig, StoredFigure) and stored_files(fresh) == []


def test_the_report_is_stored_with_its_key(fresh, store, run_id, tmp_path):
    path = write_report(store, run_id)
    text = path.read_text()
    assert 'name="mlplab-view"' in text and text.count("data:image/png;base64,") == 13
    assert stored_files(fresh, "hidden-representation") and stored_files(fresh, "embedding")
    out = write_report(store, run_id, tmp_path / "copy.html")
    assert out.read_text() == text                               # --out: the stored report, copied


def test_the_same_view_asked_at_once_is_computed_once(fresh, monkeypatch):
    original, calls = REGISTRY["learning-curves"], []

    def slow(art):
        calls.append(1)
        time.sleep(0.3)
        return original.draw(art)
    monkeypatch.setitem(REGISTRY, "learning-curves", replace(original, draw=slow))
    start, results = threading.Barrier(4), []

    def ask():
        start.wait()
        results.append(figure_png(RunArtifacts(fresh.store, fresh.run), "learning-curves"))
    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 4 and len(set(results)) == 1


def test_two_different_views_compute_at_once(fresh):
    """No global lock: view B can start (and finish) while view A is still computing."""
    b_done = threading.Event()

    def compute_a() -> bytes:
        assert b_done.wait(SAFETY_NET), "view B waited for view A: a lock shared between different views"
        return b"a"
    thread = threading.Thread(target=lambda: views.stored_view(fresh, "test-a", "txt", {}, compute_a))
    thread.start()
    views.stored_view(fresh, "test-b", "txt", {}, lambda: b"b")
    b_done.set()
    thread.join()
    assert views.stored_or_none(fresh, "test-a", "txt", {}) == b"a"


def test_a_read_only_store_still_answers(fresh, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only")
    monkeypatch.setattr(fresh.store, "write_artifact", refuse)
    assert figure_png(fresh, "learning-curves").startswith(b"\x89PNG")
    assert stored_files(fresh, "learning-curves") == []


def test_the_t_sne_says_it_is_computed_and_is_stored(fresh, caplog):
    caplog.set_level("INFO", logger="mlplab.present.views")
    figure_png(fresh, "hidden-representation")
    assert any("t-SNE" in r.getMessage() for r in caplog.records)
    caplog.clear()
    (fresh.folder / "views" / stored_files(fresh, "hidden-representation")[0]).unlink()
    figure_png(fresh, "hidden-representation", n=1000)          # the figure again: the points are stored
    assert not any("t-SNE" in r.getMessage() for r in caplog.records)


def report_pngs(art) -> dict[str, bytes]:
    """The run's stored figure PNGs by figure name (a view file is <name>-<state>-<options>.png)."""
    return {p.name.rsplit("-", 2)[0]: p.read_bytes() for p in (art.folder / "views").glob("*.png")}


def test_a_report_in_a_process_without_jax_draws_its_figures_from_both_ends(fresh, monkeypatch):
    """A new `mlplab report` has not imported JAX: a second process draws the figures from the last (the
    t-SNE first) while the report's own draws them from the first. Every figure is drawn once, and the
    PNGs are those one process draws alone."""
    import subprocess
    import sys
    started = []
    real = subprocess.Popen

    def popen(args, **kw):
        started.append(args)
        return real(args, **kw)
    monkeypatch.setattr(subprocess, "Popen", popen)
    alone = run_report.build_html(fresh, [])           # JAX imported here: one process (and a thread)
    one = report_pngs(fresh)
    assert not started and len(one) >= 10
    for path in (fresh.folder / "views").glob("*"):
        path.unlink()
    (fresh.folder / "report.html").unlink()
    monkeypatch.delitem(sys.modules, "jax")
    both = run_report.build_html(fresh, [])
    assert len(started) == 1 and started[0][1:4] == ["-m", "mlplab.present.ahead", str(fresh.store.home)]
    assert report_pngs(fresh) == one
    made = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")   # when the page was made
    assert made.sub("", both) == made.sub("", alone)


def test_the_second_drawer_stops_where_it_meets_the_first(fresh):
    """present.ahead draws the figures it is given in order and stops at the first one it finds stored."""
    import json
    import subprocess
    import sys
    names = ["hidden-representation", "training-statistics", "weights", "class-histograms"]
    figure_png(fresh, "weights")                       # drawn by the report's own process
    subprocess.run([sys.executable, "-m", "mlplab.present.ahead", str(fresh.store.home), fresh.id,
                    json.dumps([[n, {}] for n in names])], check=True)
    assert [n for n in names if stored_files(fresh, n)] == names[:3]
    assert stored_files(fresh, "embedding")
