"""Bad coalition specs give exit code 2 and a message naming the field; good ones solve."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

GOOD = """kind = "coalition"
players = ["firm", "univ"]
[values]
firm = 1
univ = 0.5
"firm+univ" = 3
"""


def run(*args):
    return subprocess.run([sys.executable, "-m", "ital_opt", *args], capture_output=True, text=True)


def run_inline(capfd, *args):
    """The command line in this process (fast); returns (exit code, stdout, stderr)."""
    from ital_opt.cli import main

    code = main(list(args))
    out, err = capfd.readouterr()
    return code, out, err


def test_good_spec_json(tmp_path):
    spec = tmp_path / "good.toml"
    spec.write_text(GOOD)
    out = run("solve", str(spec), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["objective"] == 3 and data["core_nonempty"] is True
    assert [r["nucleolus"] for r in data["rows"]] == pytest.approx([1.75, 1.25])


@pytest.mark.parametrize(
    "body, field, words",
    [
        ('players = ["firm", "univ"]\n[values]\nfirm = 1\n"firm+univ" = 3\n', "values", "'univ' is missing"),
        ('players = ["firm", "univ"]\n[values]\nfirm = 1\nuniv = "lots"\n"firm+univ" = 3\n', "values.univ", "number"),
        ('players = ["firm", "univ"]\n[values]\nfirm = 1\nuniv = 1\n"firm+ceo" = 3\n', "values.firm+ceo", "unknown player 'ceo'"),
        ('players = ["firm", "univ"]\n[values]\nfirm = 1\nuniv = 1\n"firm+firm" = 3\n', "values.firm+firm", "twice"),
        ('players = ["a", "b"]\ngame = "bankruptcy"\nestate = 10\nclaims = [1, 2]\n', "estate", "exceed"),
        ('players = ["a", "b"]\ngame = "bankruptcy"\nestate = 1\nclaims = [1, 2, 3]\n', "claims", "expected 2"),
        ('players = ["a", "b"]\ngame = "poker"\n', "game", "weighted_voting"),
        ('players = ["a", "b"]\ngame = "airport"\n', "costs", "missing"),
        ('players = ["a", "b"]\ngame = "weighted_voting"\nquota = 5\nweights = [1, 2]\n', "quota", "exceeds"),
        ('game = "assignment"\nbuyers = ["a"]\nsellers = ["a"]\nsurplus = [[1]]\n', "sellers", "both"),
        ('game = "assignment"\nbuyers = ["a"]\nsellers = ["b", "c"]\nsurplus = [[1]]\n', "surplus", "2"),
        ('players = ["a", "b"]\ngame = "bankruptcy"\nestate = 1\nclaims = [1, 2]\n[values]\na = 1\n', "game", "exactly one"),
        ('players = ["a", "b"]\nteam = "nowhere.toml"\n', "team", "cannot read"),
        ('players = ["a", "b"]\n', "values", "exactly one"),
        ('players = []\n[values]\n', "players", "at least one"),
        ('players = ["a+b"]\n[values]\n"a+b" = 1\n', "players", "'+'"),
        ('players = ["a", "b"]\nallocation = [1, 2, 3]\n[values]\na = 0\nb = 0\n"a+b" = 1\n', "allocation", "expected 2"),
    ],
)
def test_bad_input_exit_2(tmp_path, capfd, body, field, words):
    spec = tmp_path / "bad.toml"
    spec.write_text('kind = "coalition"\n' + body)
    target = tmp_path / "out.json"
    code, out, err = run_inline(capfd, "solve", str(spec), "--format", "json", "-o", str(target))
    assert code == 2, out + err
    assert f"field '{field}'" in err and words in err and "bad.toml" in err
    assert not target.exists()
    assert out == ""


def test_team_spec_with_wrong_size(tmp_path, capfd):
    (tmp_path / "t.toml").write_text('kind = "team"\na = [1.0, 0.8, 0.5]\nc = 1.0\nrho = 1.0\nsigma2 = 0.5\n')
    spec = tmp_path / "bad.toml"
    spec.write_text('kind = "coalition"\nplayers = ["a", "b"]\nteam = "t.toml"\n')
    code, out, err = run_inline(capfd, "solve", str(spec))
    assert code == 2 and "field 'team'" in err and "3 members" in err


def test_verify_cli_bundled(capfd):
    code, out, err = run_inline(capfd, "verify", "formulations/coalition_glove.toml")
    assert code == 0, out + err
    assert "verify: OK" in out
