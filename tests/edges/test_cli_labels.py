"""mlplab tag, note, rename, rm and runs --tag, in this process (no training)."""
import io

import pytest

from conftest import cli, cli_json, finished_runs
from mlplab.store import Store


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def home(tmp_path):
    store = Store(tmp_path / "runs")
    ids = list(finished_runs(store, ("first", "second")).values())
    store.close()
    return str(tmp_path / "runs"), ids


def test_tag_note_rename_and_find_by_tag(home):
    h, (a, b) = home
    assert cli_json("--home", h, "tag", a, "keep", "best") == {"id": a, "tags": ["best", "keep"]}
    assert cli_json("--home", h, "tag", a, "best", "--remove") == {"id": a, "tags": ["keep"]}
    assert cli_json("--home", h, "note", a, "lr 0.01 was the one") == {"id": a, "note": "lr 0.01 was the one"}
    assert cli_json("--home", h, "rename", b, "runner-up") == {"id": b, "name": "runner-up"}
    rows = cli_json("--home", h, "runs", "--tag", "keep")
    assert [(r["id"], r["tags"], r["note"]) for r in rows] == [(a, ["keep"], "lr 0.01 was the one")]
    code, out, _ = cli("--home", h, "runs")
    assert code == 0 and "#keep" in out and "runner-up" in out
    code, out, _ = cli("--home", h, "runs", "--tag", "other")
    assert code == 0 and "no runs match (of 2" in out


@pytest.mark.parametrize("argv, message", [
    (["tag", "last", "no spaces"], "mlplab: error: tag 'no spaces': expected 1-40 characters: letters, digits"),
    (["tag", "last", "x" * 41], "expected 1-40 characters"),
    (["rename", "last", "a\nb"], "mlplab: error: name 'a\\nb': expected 1-200 characters without line breaks"),
    (["note", "last", "x" * 10_001], "note of 10001 characters: expected at most 10000"),
    (["runs", "--tag", "a/b"], "tag 'a/b'"),
    (["tag", "nope", "x"], "run 'nope': no such run"),
    (["rm", "last"], "stdin is not a terminal; add --yes to delete without asking"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(home, argv, message, monkeypatch):
    h, (a, b) = home
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = cli("--home", h, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    rows = cli_json("--home", h, "runs")
    assert [(r["name"], r["tags"], r["note"]) for r in rows] == [("second", [], ""), ("first", [], "")]


def test_rm_asks_and_deletes_only_that_run(home, monkeypatch):
    h, (a, b) = home
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, _, err = cli("--home", h, "rm", b)
    assert code == 0 and f"delete run {b} 'second' (ok) and its folder? [y/N]" in err and "nothing was deleted" in err
    assert len(cli_json("--home", h, "runs")) == 2
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, _ = cli("--home", h, "rm", b)
    assert code == 0 and f"deleted run {b}" in out
    store = Store(h)
    assert [r["id"] for r in store.list_runs()] == [a]
    assert not (store.artifacts / b).exists() and (store.artifacts / a / "history.csv").is_file()
    assert cli_json("--home", h, "rm", a, "--yes") == {"deleted": [a]}
    assert cli_json("--home", h, "runs") == []


def test_rm_refuses_a_running_run(home):
    h, (a, b) = home
    store = Store(h)
    running = store.create_run(name="training", spec={}, dataset="digits")   # this process: alive
    code, _, err = cli("--home", h, "rm", running, a, "--yes")
    assert code == 2 and f"run {running}: still running" in err and "nothing was deleted" in err
    assert len(store.list_runs()) == 3
