"""The command line refuses what users mistype with exit 2 and one line, before any work and storing
nothing: argparse's errors, every numeric argument's range, every --out, recipe names, --set values.
In-process (conftest.cli); nothing trains."""
import json

import pytest

from conftest import cli


def one_line(result, *parts: str) -> str:
    code, out, err = result
    assert code == 2 and out == "", (code, out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in err, (part, err)
    return err.strip()


@pytest.mark.parametrize("argv, line", [
    (["run", "--foo"], "mlplab run: unrecognized argument --foo; see mlplab run --help"),
    (["run", "a.toml", "b.toml"], "mlplab run: unrecognized argument b.toml; see mlplab run --help"),
    (["data", "show", "digits", "--bogus", "1"],
     "mlplab data show: unrecognized arguments --bogus 1; see mlplab data show --help"),
    (["sweep"], "mlplab sweep: the following arguments are required: spec; see mlplab sweep --help"),
    (["rn"], "mlplab: argument command: invalid choice: 'rn'; did you mean run? expected one of run, sweep,"),
    (["sweep", "x.toml", "--executor", "rey"], "mlplab sweep: argument --executor: invalid choice: 'rey'; did you mean ray? expected one of local, ray"),
])
def test_argparse_errors_are_one_line_naming_the_command(tmp_path, argv, line):
    err = one_line(cli("--home", str(tmp_path / "runs"), *argv))
    assert err.startswith(line) and err.endswith("--help"), err


@pytest.mark.parametrize("argv, line", [
    (["runs", "--limit", "-1"], "mlplab runs: argument --limit: -1: expected a whole number >= 1"),
    (["runs", "--limit", "0"], "mlplab runs: argument --limit: 0: expected a whole number >= 1"),
    (["runs", "--limit", "x"], "mlplab runs: argument --limit: x: expected a whole number >= 1"),
    (["doctor", "last", "--fix", "--candidates", "0"], "mlplab doctor: argument --candidates: 0: expected a whole number >= 1"),
    (["serve", "--port", "70000"], "mlplab serve: argument --port: 70000: expected a whole number from 0 to 65535"),
    (["serve", "--port", "-1"], "mlplab serve: argument --port: -1: expected a whole number from 0 to 65535"),
    (["data", "show", "digits", "--count", "0"], "mlplab data show: argument --count: 0: expected a whole number >= 1"),
    (["data", "show", "digits", "--index", "-3"], "mlplab data show: argument --index: -3: expected a whole number >= 0"),
    (["data", "show", "digits", "--class", "-1"], "mlplab data show: argument --class: -1: expected a whole number >= 0"),
    (["data", "show", "digits", "--seed", "-1"], "mlplab data show: argument --seed: -1: expected a whole number >= 0"),
])
def test_every_numeric_argument_has_a_range(tmp_path, argv, line):
    assert one_line(cli("--home", str(tmp_path / "runs"), *argv)).startswith(line)
    assert not (tmp_path / "runs").exists()


def test_every_numeric_argument_is_given_a_range():
    """No argument of any command reads a bare int: each goes through cli.whole (a range)."""
    from mlplab import cli as command
    parsers = [command.parser()]
    numeric = []
    while parsers:
        p = parsers.pop()
        for action in p._actions:
            parsers += list((action.choices or {}).values()) if isinstance(action.choices, dict) else []
            if action.type is int or action.type is float:
                numeric.append((p.prog, action.dest))
    assert numeric == []


@pytest.mark.parametrize("argv, line", [
    (["data", "show", "digits", "--out", "{missing}/x.png"], "--out {missing}/x.png: the folder {missing} does not exist"),
    (["data", "show", "digits", "--out", "{tmp}/x.txt"], "--out {tmp}/x.txt: expected a file name ending in .png, .svg, .pdf"),
    (["data", "show", "digits", "--out", "{tmp}"], "--out {tmp}: is a folder"),
    (["compare", "abc", "--out", "{missing}/c.png"], "--out {missing}/c.png: the folder {missing} does not exist"),
    (["report", "last", "--out", "{tmp}/r.png"], "--out {tmp}/r.png: expected a file name ending in .html"),
    (["export", "last", "--onnx", "{missing}/m.onnx"], "--onnx {missing}/m.onnx: the folder {missing} does not exist"),
    (["export", "last", "--tensorboard", "{tmp}/file.txt"], "--tensorboard {tmp}/file.txt: is a file"),
    (["run", "--tensorboard", "{tmp}/file.txt"], "--tensorboard {tmp}/file.txt: is a file"),
])
def test_every_out_is_checked_before_any_work(tmp_path, argv, line):
    (tmp_path / "file.txt").write_text("")
    paths = {"missing": str(tmp_path / "missing"), "tmp": str(tmp_path)}
    argv = [a.format(**paths) for a in argv]
    one_line(cli("--home", str(tmp_path / "runs"), *argv), line.format(**paths))
    assert not (tmp_path / "runs").exists()   # refused before the store was opened


def test_data_show_writes_where_it_was_told(tmp_path):
    out = tmp_path / "grid.svg"
    code, _, err = cli("data", "show", "digits", "--out", str(out), "--json")
    assert code == 0 and out.stat().st_size > 0, err


def test_a_recipe_name_with_a_path_is_refused(tmp_path):
    one_line(cli("--home", str(tmp_path / "runs"), "run", "recipe:../deep-10-layers"),
             "recipe '../deep-10-layers': no such recipe; expected one of fashion-cnn")
    assert not (tmp_path / "runs").exists()


def test_broken_toml_in_set_is_said_to_be_broken_toml(tmp_path):
    err = one_line(cli("--home", str(tmp_path / "runs"), "run", "--set",
                       'model.init={ name = "random_normal", stddev = }'))
    assert err.startswith('mlplab: error: --set model.init={ name = "random_normal", stddev = }: not valid TOML '
                          "at column 36 of the value: invalid value;"), err
    one_line(cli("data", "show", "cosine2d", "--set", "n=[1", "--out", str(tmp_path / "x.png")),
             "--set n=[1: not valid TOML")


def test_a_sweeps_folds_beyond_the_data_name_sweep_folds_and_store_nothing(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[train]\nepochs = 1\n[sweep]\nfolds = 1000\ngrid = { "train.learning_rate" = [0.01, 0.1] }\n')
    err = one_line(cli("--home", str(tmp_path / "runs"), "sweep", str(spec)))
    assert err == ("mlplab: error: sweep.folds = 1000: expected a whole number from 2 to 139: every fold holds "
                   "each class, and the class 8 of digits has 139 training rows"), err
    code, out, _ = cli("--home", str(tmp_path / "runs"), "runs", "--json")
    assert code == 0 and out.strip() == "[]"


@pytest.mark.slow
def test_a_json_document_is_all_a_command_prints_on_stdout(tmp_path):
    """Whatever else writes to file descriptor 1 while a --json command runs (here C-level writes, as Ray's
    raylet lines are) goes to stderr: stdout parses as one JSON document."""
    import subprocess
    import sys
    code = ("import os, sys\n"
            "from mlplab import cli\n"
            "real = cli.cmd_recipes\n"
            "def noisy(args):\n"
            "    os.write(1, b'(raylet) A worker died\\n'); print('a library prints'); return real(args)\n"
            "cli.cmd_recipes = noisy\n"
            "sys.exit(cli.main(['recipes', '--json']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-400:]
    assert [r["name"] for r in json.loads(result.stdout)] and "(raylet) A worker died" in result.stderr


@pytest.mark.parametrize("argv", [["run", "--tensorboard", ""], ["data", "show", "digits", "--out", ""]])
def test_an_empty_output_path_is_refused_not_ignored(argv, tmp_path):
    code, stdout, stderr = cli("--home", str(tmp_path / "h"), *argv)
    assert code == 2 and stdout == "" and len(stderr.strip().splitlines()) == 1
    assert "'': expected a" in stderr and not (tmp_path / "h").exists()
