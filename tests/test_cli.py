"""The milo-fast command line: the demo (the README's first command) on a small forest, argument errors, inspect."""
from __future__ import annotations

import json

import pytest

import milo_fast
from milo_fast import cli


def test_demo_runs_and_reports_bit_identical_outputs(capsys):
    rc = cli.main(["demo", "--trees", "3", "--samples", "600", "--features", "5", "--repeat", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    rows = [line for line in out.splitlines() if line.startswith(("pickle ", "milo_fast text", "milo_fast base64"))]
    assert len(rows) == 3 and all(r.rstrip().endswith("bit-identical") for r in rows), out
    assert "bit-identical after every round trip" in out


@pytest.mark.parametrize("args", [["--trees", "0"], ["--samples", "-5"], ["--repeat", "many"]])
def test_demo_refuses_bad_numbers(args, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["demo", *args])
    assert e.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "examples:" in capsys.readouterr().out


def test_inspect(tmp_path, capsys):
    from sklearn.tree import DecisionTreeClassifier
    path = tmp_path / "m.json"
    milo_fast.dump(DecisionTreeClassifier(max_depth=2).fit([[0], [1], [2], [3]], [0, 1, 0, 1]), path)
    assert cli.main(["inspect", str(path)]) == 0
    header = json.loads(capsys.readouterr().out)
    assert header["format_version"] >= 1 and header["model_type"].endswith("DecisionTreeClassifier")
    assert cli.main(["inspect", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
