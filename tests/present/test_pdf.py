"""A run's or a sweep's report as a PDF: a title page with its facts and findings (more pages when they do not fit),
then every figure of the HTML report; `mlplab report RUN --pdf` and `run.report("x.pdf")`."""
import re
import shutil

import pytest
from matplotlib.figure import Figure

import mlplab as ml
from mlplab.analysis.doctor import Finding
from mlplab.present.pdf import PAGE, pdf_bytes, text_lines, text_pages
from mlplab.present.registry import applicable
from mlplab.store import Store
from mlplab.stored import RunArtifacts

from conftest import cli


def pages(data: bytes) -> int:
    """The pages of a PDF matplotlib wrote (its page objects are not compressed)."""
    return len(re.findall(rb"/Type /Page(?!s)", data))


def finding(k: int) -> Finding:
    return Finding(f"code_{k}", "warning", f"problem {k}", k, {}, "a long explanation of what went wrong " * 6,
                   "--set train.learning_rate=0.001")


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_the_title_page_has_the_facts_and_every_finding():
    lines = text_lines("mlplab run abc", [("run", "abc"), ("test accuracy", 0.97512), ("name", None)], [finding(1)])
    [page] = text_pages(lines)
    shown = texts(page)
    assert shown[0] == "mlplab run abc"
    assert {"run: abc", "test accuracy: 0.9751", "name: –", "Findings (1)", "warning: problem 1 (from epoch 1)",
            "Try: --set train.learning_rate=0.001"} <= set(shown)
    assert "none: the doctor has nothing to say about this run" in texts(text_pages(text_lines("x", [], []))[0])


def test_findings_that_do_not_fit_go_on_more_pages_inside_the_margins():
    made = text_pages(text_lines("mlplab run abc", [("run", "abc")], [finding(k) for k in range(40)]))
    assert len(made) > 1
    assert all(f.get_size_inches().tolist() == list(PAGE) for f in made)
    every = [t for f in made for t in f.texts]
    assert sum(t.get_text().startswith("warning: problem") for t in every) == 40
    assert all(0 < t.get_position()[1] < 1 and 0 < t.get_position()[0] < 0.5 for t in every)
    assert all(len(t.get_text()) < 120 for t in every)          # wrapped to the page's width


def test_a_pdf_has_one_page_per_figure():
    assert pages(pdf_bytes("t", [Figure(figsize=(4, 3)) for _ in range(3)])) == 3


@pytest.mark.slow
def test_report_pdf_of_a_run(digits_run, tmp_path):
    home = tmp_path / "runs"
    shutil.copytree(digits_run[0], home)          # the report stores views (the t-SNE): not in the shared store
    run_id = digits_run[1]["run_id"]
    store = Store(home)
    expected = 1 + len(applicable(RunArtifacts(store, store.get_run(run_id))))   # the title page, every figure
    assert expected >= 12
    out = tmp_path / "run.pdf"
    code, stdout, stderr = cli("--home", str(home), "report", run_id, "--pdf", "--out", str(out))
    assert code == 0, stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and pages(data) == expected
    assert pages(ml.load_run(run_id, store=str(home)).report(tmp_path / "api.pdf").read_bytes()) == expected
    assert cli("--home", str(home), "report", run_id, "--pdf")[0] == 0
    assert pages((home / "artifacts" / run_id / "report.pdf").read_bytes()) == expected

    for bad, why in ((tmp_path / "missing" / "x.pdf", "does not exist"), (tmp_path / "x.html", "ending in .pdf")):
        code, stdout, stderr = cli("--home", str(home), "report", run_id, "--pdf", "--out", str(bad))
        assert code == 2 and stdout == "" and len(stderr.strip().splitlines()) == 1
        assert f"--out {bad}" in stderr and why in stderr and not bad.exists()


@pytest.mark.slow
def test_a_sweeps_report_as_a_pdf_has_its_configurations_then_each_figure(tmp_path):
    from mlplab.present.sweep_report import SweepPage, sweep_figures
    home = tmp_path / "runs"
    spec = tmp_path / "lr.toml"
    spec.write_text('[train]\nepochs = 2\n[sweep]\nrepeats = 2\n[sweep.grid]\n"train.learning_rate" = [0.01, 0.1]\n')
    code, _, stderr = cli("--home", str(home), "sweep", str(spec), "--json")
    assert code == 0, stderr
    out = tmp_path / "sweep.pdf"
    code, stdout, stderr = cli("--home", str(home), "report", "--sweep", "last", "--pdf", "--out", str(out))
    assert code == 0, stderr
    store = Store(home)
    shown = [caption for caption, _ in sweep_figures(SweepPage(store, store.get_sweep("last"), home))]
    assert shown == ["parallel coordinates", "parameter importance", "slices", "overlaid learning curves", "spread"]
    assert pages(out.read_bytes()) == 1 + len(shown)
    api = ml.load_sweep("last", store=home).report(tmp_path / "api.pdf")
    assert pages(api.read_bytes()) == 1 + len(shown)