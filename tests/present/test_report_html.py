"""The reports' HTML from their templates, without training: the user's text escaped, the page shell, the pieces."""
from mlplab.analysis.doctor import Finding
from mlplab.present.html import figure_html, macros, page
from mlplab.present.run_report import stored_report, summary_html
from mlplab.present.sweep_report import build_sweep_html, mean_spread
from mlplab.store import Store

SCRIPT = '<script>alert("x")</script> & \'co\''
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;co&#39;"


def test_a_run_summary_escapes_its_name_and_error_and_shows_its_status_badge():
    run = {"id": "r1", "name": SCRIPT, "status": "ok/diverged", "error": "<img src=x onerror=alert(1)>",
           "params": 8970, "learning_rate": 0.001, "test_accuracy": 0.91234567, "seconds": 1.23456,
           "summary": {"data": {"n_train": 10, "n_val": 2, "n_test": 3, "class_names": ["a", "b"]}}}
    html = summary_html(run)
    assert "<script" not in html and "<img" not in html
    assert f"<tr><th>name</th><td>{ESCAPED}</td></tr>" in html
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in html
    assert '<span class="status-diverged" style="color:' in html and ">ok/diverged</span>" in html  # the worse word
    assert "<td>None (10 train / 2 validation / 3 test rows, 2 classes)</td>" in html
    assert "<td>None · 8970 parameters</td>" in html and "<td>adam" not in html   # what the run lacks shows as None
    assert "<tr><th>test accuracy</th><td>0.9123</td></tr>" in html and "<td>1.23 s</td>" in html


def test_the_page_shell_escapes_the_name_and_carries_its_view_key_first(tmp_path):
    sections = [("summary", "Findings (2)", summary_html({"id": "r1", "name": "n"})), ("spec", SCRIPT, "")]
    text = page("run", "r1", SCRIPT, sections, ["report.css"], view_key="abc123")
    assert text.startswith('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                           '<meta name="mlplab-view" content="abc123"><title>mlplab run r1 · ')
    assert "<script" not in text and f"<h1>{ESCAPED}</h1>" in text and text.endswith("</html>\n")
    assert '<nav><a href="#summary">Findings</a>' in text                   # the nav drops " (count)"
    assert '<section id="summary"><h2>Findings (2)</h2><table>' in text     # a body is HTML, not escaped
    assert "body{font-family:" in text and "table.grid tr.best" not in text  # report.css only
    path = tmp_path / "report.html"
    path.write_text(text, encoding="utf-8")
    assert stored_report(path, "abc123") == text and stored_report(path, "abc124") is None
    assert '<meta name="mlplab-view"' not in page("run", "r1", None, [], ["report.css"])


def test_a_figure_that_cannot_be_drawn_is_a_note_and_one_that_can_an_image():
    def broken():
        raise ValueError("no <predictions> stored")
    assert figure_html(broken, "a <b>") == \
        '<p class="note">a &lt;b&gt;: not available (ValueError: no &lt;predictions&gt; stored)</p>'
    assert figure_html(lambda: b"\x89PNG", "curves", width=300, heading=True) == \
        '<h3>curves</h3><img alt="curves" src="data:image/png;base64,iVBORw==" style="max-width:300px">'
    assert figure_html(lambda: b"", "c") == '<img alt="c" src="data:image/png;base64,">'


def test_a_finding_is_escaped_with_its_evidence():
    f = Finding(code="lr_too_high", severity="warning", title=SCRIPT, epoch=3, evidence={"lr": 10.0, "gap": 0.123456},
                explanation="a < b", suggestion="--set train.learning_rate=0.001")
    html = macros("run.html.j2").findings([f])
    assert "<script" not in html and f"<span class=\"badge\">warning</span>{ESCAPED}</div>" in html
    assert "<p>a &lt; b</p>" in html
    assert ('<p class="evidence">code <code>lr_too_high</code> · from epoch 3 · evidence: lr = 10, gap = 0.1235</p>'
            in html)
    assert macros("run.html.j2").findings([]).strip() == \
        '<p class="ok">No problems found: the training looks healthy.</p>'


def test_a_sweep_report_escapes_the_users_text(tmp_path):
    store = Store(tmp_path / "home")
    sweep = {"id": "s1", "name": SCRIPT, "status": "failed", "created": "today", "runs": [],
             "spec": {"name": SCRIPT, "sweep": {"grid": {"train.optimizer": ["adam", "<b>sgd</b>"]}, "repeats": 1}},
             "summary": {}}
    text = build_sweep_html(store, sweep, tmp_path)
    assert "<script" not in text and "<b>sgd" not in text and f"<h1>{ESCAPED}</h1>" in text
    assert "&lt;b&gt;sgd&lt;/b&gt;" in text                                     # in the spec
    assert "No results stored: the sweep ended with status failed." in text
    assert "no comparison table: the sweep has no results" in text
    assert "One run per configuration: the seed noise is unknown" in text
    assert [s for s in ("summary", "table", "noise", "heatmap", "curves", "spread", "runs", "spec")
            if f'<section id="{s}">' in text] == ["summary", "table", "noise", "runs", "spec"]
    assert "table.grid tr.best" in text                                       # report.css and sweep.css


def test_mean_and_spread_as_the_sweep_table_shows_them():
    assert mean_spread(0.93712, 0.00991, 3) == ("0.9371", "0.0099")
    assert mean_spread(0.93712, 0.00991, 1) == ("0.9371", None)
    assert mean_spread(0.5, None, 3) == ("0.5000", None)
    assert mean_spread(float("nan"), 0.1, 3) == ("NaN", None)
    assert mean_spread(None, None, 3) == ("–", None)
