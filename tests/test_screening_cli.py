"""Bad screening specs through the command line: exit 2, file and field named, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

GOOD = {
    "theta": "[1.0, 2.0]",
    "prob": "[0.6, 0.4]",
    "agent": '"theta*q"',
    "principal": '"-q**2/2"',
}

BAD = [
    ("missing_prob", {"prob": None}, "prob"),
    ("prob_sum", {"prob": "[0.5, 0.6]"}, "prob"),
    ("prob_negative", {"prob": "[1.2, -0.2]"}, "prob"),
    ("theta_decreasing", {"theta": "[2.0, 1.0]"}, "theta"),
    ("theta_nan", {"theta": "[1.0, nan]"}, "theta"),
    ("theta_inf", {"theta": "[1.0, inf]"}, "theta"),
    ("theta_string", {"theta": '"high"'}, "theta"),
    ("unknown_name", {"agent": '"theta*x"'}, "agent"),
    ("forbidden_syntax", {"agent": '"__import__(\'os\').system(\'touch pwned\')"'}, "agent"),
    ("attribute", {"principal": '"q.real"'}, "principal"),
    ("lambda", {"principal": '"(lambda: 1)()"'}, "principal"),
    ("mistyped_field", {"thetas": "[1.0, 2.0]"}, "thetas"),
    ("outside_length", {"outside": "[0.0, 1.0, 2.0]"}, "outside"),
    ("ic_choice", {"ic": '"sometimes"'}, "ic"),
    ("q_bounds_order", {"q_bounds": "[1.0, 0.0]"}, "q_bounds"),
]


def _write(path: Path, changes: dict) -> Path:
    fields = {**GOOD, **changes}
    lines = ['kind = "screening"'] + [f"{k} = {v}" for k, v in fields.items() if v is not None]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ital_opt", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("name,changes,field", BAD, ids=[b[0] for b in BAD])
def test_bad_spec_exit_2_names_file_and_field(tmp_path, capsys, monkeypatch, name, changes, field):
    """In-process through the CLI's main (fast); a few cases also as a real subprocess below."""
    from ital_opt.cli import main

    monkeypatch.chdir(tmp_path)
    spec = _write(tmp_path / f"{name}.toml", changes)
    out = tmp_path / "out.json"
    code = main(["solve", str(spec), "--format", "json", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert spec.name in captured.err and f"field '{field}" in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()
    assert not (tmp_path / "pwned").exists()
    assert captured.out.strip() == ""


@pytest.mark.parametrize(
    "name,changes,field",
    [BAD[8], pytest.param(*BAD[1], marks=pytest.mark.slow), pytest.param(*BAD[11], marks=pytest.mark.slow)],
    ids=["forbidden", "prob_sum", "mistyped"],
)
def test_bad_spec_subprocess(tmp_path, name, changes, field):
    spec = _write(tmp_path / f"{name}.toml", changes)
    out = tmp_path / "out.json"
    proc = _run("solve", str(spec), "--format", "json", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert spec.name in proc.stderr and f"field '{field}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "pwned").exists()
    assert proc.stdout.strip() == ""


def test_good_spec_json(tmp_path):
    spec = _write(tmp_path / "good.toml", {})
    proc = _run("solve", str(spec), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["kind"] == "screening" and data["method"] == "closed-form"
    assert data["objective"] == pytest.approx(5 / 6)
    assert set(data["rows"][0]) >= {"theta", "prob", "q", "t", "agent_utility", "principal_payoff"}
    assert data["checks"]["max_ic_violation"] <= 1e-7


@pytest.mark.slow
def test_verify_bundled_multidimensional():
    proc = _run("verify", str(ROOT / "formulations" / "screening_multidimensional.toml"), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
