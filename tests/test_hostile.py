"""Hostile and mistaken input: exit code 2 within 2 s with a message naming the file and the field,
no traceback, nothing written; outputs never replace FIFOs or devices; sweeps refuse what they
cannot do safely (a changed spec or grid on --resume, a second sweep on the same file)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ital_opt
from ital_opt.cli import main
from ital_opt.errors import SpecError
from ital_opt.team import formulations as team_formulations
from ital_opt.team import sharing

ROOT = Path(__file__).resolve().parent.parent
SCREENING = 'kind = "screening"\ntheta = [1.0, 2.0]\nprob = [0.5, 0.5]\noutside = [0.0, 0.0]\nprincipal = "-q**2/2"\n'
LIMIT = 2.0  # seconds, in-process (the interpreter's start-up is not counted)


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Import the kinds once, so that the timings below measure the refusal, not the imports."""
    for kind in ("screening", "coalition", "team"):
        ital_opt.kinds  # noqa: B018
        from ital_opt.kinds import problem_class

        problem_class(kind)


def refused(args, capsys, *fragments):
    start = time.perf_counter()
    code = main([str(a) for a in args])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert elapsed < LIMIT, f"took {elapsed:.2f} s"
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


# -- expressions ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("agent, fragment", [
    ("theta*q**(9**9**9)", "exponent"),
    ("-" * 2000 + "q", "nests"),
    (" + ".join(["theta*q"] * 4000), "longer than"),
    ("+".join(["q"] * 4000), "nests"),
    ("**".join(["q"] * 3000), "nests"),
    ("theta*q + 1/0", "division by zero"),
    ("theta*q + 10**400", "overflows"),
    ("theta*q*1" + "0" * 400, "too large"),
    ("theta*q + (-8)**(1/3)", "not a real number"),
    ("theta*q + log(0)", "log of the constant 0"),
    ("theta*q + exp(800)", "overflows"),
])
def test_expression_limits(tmp_path, capsys, agent, fragment):
    spec = tmp_path / "s.toml"
    spec.write_text(SCREENING + f'agent = "{agent}"\n')
    refused(["solve", spec], capsys, str(spec), "field 'agent'", fragment)


def test_the_power_tower_does_not_hang_the_command_line(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SCREENING + 'agent = "theta*q**(9**9**9)"\n')
    out = tmp_path / "out.json"
    res = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(spec), "-o", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "field 'agent'" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()


def test_a_parameter_may_not_shadow_a_variable(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SCREENING + 'agent = "theta*q"\n[params]\ntheta = 3.0\n')
    refused(["solve", spec], capsys, str(spec), "field 'params.theta'", "shadows")
    team = tmp_path / "t.toml"
    team.write_text('kind = "team"\nrho = [1.0, 1.0]\nsigma2 = 0.5\n'
                    'production = "e1 + e2"\ncost = "c*e**2/2"\n[params]\ne = 2.0\n')
    refused(["solve", team], capsys, "field 'params.e'")


# -- spec files ---------------------------------------------------------------------------------------------
def test_toml_nested_too_deeply(tmp_path, capsys):
    spec = tmp_path / "deep.toml"
    spec.write_text('kind = "screening"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    refused(["solve", spec], capsys, str(spec), "nested too deeply")


def test_symlink_loop_device_fifo_and_huge_file(tmp_path, capsys):
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    refused(["solve", tmp_path / "a.toml"], capsys, "a.toml", "symbolic links")
    refused(["solve", "/dev/zero"], capsys, "/dev/zero", "character device")
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    refused(["verify", fifo], capsys, "f.toml", "FIFO")
    huge = tmp_path / "huge.toml"
    huge.write_text(SCREENING.replace("theta = [1.0, 2.0]", "theta = [" + ",".join(["1"] * 200_000) + "]"))
    refused(["solve", huge], capsys, "huge.toml", "at most")
    refused(["solve", tmp_path], capsys, "is a directory")


def test_constructor_arguments_are_not_fields(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SCREENING + 'agent = "theta*q"\nself = 1\n')
    refused(["solve", spec], capsys, "field 'self'", "unknown field")


def test_list_lengths_are_limited_before_anything_is_built():
    from ital_opt.spec import MAX_ENTRIES

    n = 10**7
    data = {"kind": "screening", "theta": list(range(n)), "prob": [1.0 / n] * n, "agent": "theta*q",
            "principal": "-q**2/2"}
    start = time.perf_counter()
    with pytest.raises(SpecError, match=f"at most {MAX_ENTRIES:,}") as info:
        ital_opt.load(data)
    assert time.perf_counter() - start < LIMIT
    assert info.value.field in ("theta", "prob")


def test_large_teams_are_refused_by_the_methods_whose_memory_grows_faster_than_n(tmp_path, capsys):
    # 2,000 members choosing weighted-welfare shares: cvxpy's per-member quadratics would take
    # 64 GB (n³ numbers) and the pyomo NLP took 24 GB before its solver failed; both now decline
    n = 2000
    spec = tmp_path / "team.toml"
    spec.write_text('kind = "team"\na = 1.0\nrho = 0.5\nsigma2 = 0.2\nshares = "weighted"\n'
                    f"lambda = [{', '.join([repr(1 / n)] * n)}]\n")
    refused(["solve", spec], capsys, "no method applies", f"at most {sharing.QUADRATIC_MAX_MEMBERS}",
            f"at most {team_formulations.PYOMO_MAX_MEMBERS} members")


def test_a_large_welfare_team_is_verified_without_the_cubic_polish():
    # the closed form and cvxpy (unpolished above QUADRATIC_MAX_MEMBERS) agree; no n³ array is made
    team = ital_opt.Team(a=(1 + np.arange(2000) % 7 / 10).tolist(), rho=0.5, sigma2=0.2)
    report = ital_opt.verify(team)
    assert report.ok, report
    assert "cvxpy" in report.results and "pyomo" in report.skipped


def test_starting_points_make_only_the_corners_they_use():
    small = ital_opt.Team(a=[1.0, 2.0, 3.0], rho=0.5, sigma2=0.2)
    points = sharing.starting_points(small, 6)
    corners = np.full((3, 3), 0.05) + np.diag([0.85] * 3)
    np.testing.assert_array_equal(np.vstack(points[:4]), np.vstack([np.full(3, 1 / 3), corners]))
    assert len(points) == 6 and np.allclose(np.sum(points, axis=1), 1.0)
    big = ital_opt.Team(a=1.0, rho=0.5, sigma2=0.2, members=[f"m{i}" for i in range(10**5)])
    points = sharing.starting_points(big, 2)  # an n × n array would take 80 GB
    assert len(points) == 2 and points[1][0] == 0.9


def test_huge_numbers_are_refused(tmp_path, capsys):
    game = tmp_path / "w.toml"
    game.write_text('kind = "coalition"\nplayers = ["a", "b"]\n[values]\na = 1e308\nb = 1e308\n"a+b" = 1e308\n')
    refused(["solve", game], capsys, "w.toml", "field 'values.a'", "at most")
    spec = tmp_path / "s.toml"
    spec.write_text(SCREENING.replace("theta = [1.0, 2.0]", "theta = [1.0, 1e300]") + 'agent = "theta*q"\n')
    refused(["solve", spec], capsys, "field 'theta[1]'", "at most")


@pytest.mark.parametrize("expected, field", [
    ("expected = 3\n", "field 'expected'"),
    ("[expected]\ncases = 5\n", "field 'expected.cases'"),
    ("[expected]\nset = 7\n", "field 'expected.set'"),
    ("[[expected.cases]]\nset = 7\n", "field 'expected.cases[0].set'"),
    ("[expected]\ntol = -1\n", "field 'expected.tol'"),
    ("[expected]\nobjective = {a = 1}\n", "field 'expected.objective'"),
])
def test_malformed_expected_tables(tmp_path, capsys, expected, field):
    spec = tmp_path / "s.toml"
    spec.write_text(SCREENING + 'agent = "theta*q"\n' + expected)
    refused(["verify", spec], capsys, "s.toml", field)


@pytest.mark.parametrize("rtol", ["-1", "0", "2", "nan", "x"])
def test_verify_rtol_is_checked_by_the_parser(tmp_path, capsys, rtol):
    spec = tmp_path / "s.toml"
    spec.write_text(SCREENING + 'agent = "theta*q"\n')
    refused(["verify", spec, "--rtol", rtol], capsys, "--rtol")


# -- outputs ------------------------------------------------------------------------------------------------
@pytest.fixture()
def spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCREENING + 'agent = "theta*q"\n')
    return path


def test_output_into_a_fifo_without_reader_is_refused_and_kept(tmp_path, spec, capsys):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    refused(["solve", spec, "-o", fifo], capsys, "FIFO that nobody reads")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_into_a_fifo_with_a_reader_is_written_into_it(tmp_path, spec, capsys):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    time.sleep(0.2)
    try:
        assert main(["solve", str(spec), "--format", "json", "-o", str(fifo)]) == 0
    finally:
        reader.join(timeout=10)
    assert json.loads(got[0])["status"] == "optimal"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_onto_a_device_writes_into_it(spec, capsys):
    before = os.stat("/dev/null")
    assert main(["solve", str(spec), "-o", "/dev/null"]) == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_output_through_a_symlink_replaces_the_target_not_the_link(tmp_path, spec):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert main(["solve", str(spec), "--format", "json", "-o", str(link)]) == 0
    assert link.is_symlink() and json.loads(target.read_text())["status"] == "optimal"


def test_library_warnings_are_one_line_on_the_command_line(tmp_path, spec, capsys):
    # the middle point's prior does not sum to one: a failed point (the first and last are checked up front)
    code = main(["sweep", str(spec), "--vary", "prob[1]=0.5,0.9,0.5", "--quiet", "--method", "cvxpy", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "ital-opt: warning: sweep: 1 point(s) failed" in err
    assert "Traceback" not in err and "warnings.warn" not in err and "SweepWarning" not in err


@pytest.mark.parametrize("target, fragment", [("dir", "is a directory"), ("missing/out.txt", "does not exist")])
@pytest.mark.parametrize("command", [["solve"], ["verify"], ["report"], ["sweep", "--vary", "outside[0]=0,0.1"]])
def test_output_into_a_directory_or_a_missing_one(tmp_path, spec, capsys, command, target, fragment):
    (tmp_path / "dir").mkdir()
    name, *rest = command
    before = sorted(p.name for p in tmp_path.rglob("*"))
    refused([name, spec, *rest, "-o", tmp_path / target], capsys, "field '", fragment)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


# -- sweeps ---------------------------------------------------------------------------------------------------
def test_resume_refuses_a_finished_sweep_of_a_changed_spec_or_grid(tmp_path, spec, capsys):
    out = tmp_path / "s.csv"
    sweep = ["sweep", str(spec), "--vary", "outside[0]=0:0.2:40", "--out", str(out), "--quiet"]
    assert main(sweep) == 0
    table = out.read_bytes()
    assert main(sweep + ["--resume"]) == 0  # the same sweep: nothing to do
    changed = list(sweep)
    changed[3] = "outside[0]=0:0.2001:40"  # one value differs (the old fingerprint sampled the grid)
    refused(changed + ["--resume"], capsys, "another grid")
    spec.write_text(spec.read_text().replace("-q**2/2", "-q**2/3"))
    refused(sweep + ["--resume"], capsys, "another spec")
    assert out.read_bytes() == table


def test_a_first_point_without_rows_keeps_the_result_columns(tmp_path):
    from ital_opt.sweep import SweepWarning, sweep

    problem = ital_opt.load({"kind": "screening", "theta": [1.0, 2.0], "prob": [0.5, 0.5], "agent": "theta*q",
                             "principal": "-q**2/2"})
    for out in (None, tmp_path / "s.csv", tmp_path / "s.parquet"):
        with pytest.warns(SweepWarning):
            table = sweep(problem, {"prob[1]": [0.9, 0.5]}, method="cvxpy", workers=1, validate=False, out=out)
        if out is not None:
            table = pd.read_csv(out) if out.suffix == ".csv" else pd.read_parquet(out)
        assert list(table["status"]) == ["not_solved", "optimal", "optimal"]
        assert {"q", "t", "agent_utility"} <= set(table.columns)
        assert list(table.columns).index("q") < list(table.columns).index("method")
        np.testing.assert_allclose(table["q"].iloc[1:].to_numpy(float), [0.0, 2.0], atol=1e-4)  # Mussa-Rosen: virtual value 1 - 1 = 0


@pytest.mark.parametrize("vary", [["c=0:1:10000000000"], ["c=0:1:4000", "outside[0]=0:1:4000"]])
def test_grids_are_limited(tmp_path, spec, capsys, vary):
    args = ["sweep", spec]
    for v in vary:
        args += ["--vary", v]
    refused(args, capsys, "at most 10,000,000")


@pytest.mark.parametrize("option", ["--chunk-size", "--workers"])
@pytest.mark.parametrize("value", ["-1", "0", "x"])
def test_sweep_sizes_must_be_positive(tmp_path, spec, capsys, option, value):
    out = tmp_path / "s.csv"
    refused(["sweep", spec, "--vary", "outside[0]=0,0.1", option, value, "--out", out], capsys, option)
    assert not out.exists()
    from ital_opt.sweep import sweep

    with pytest.raises(SpecError, match=option):
        sweep(ital_opt.load(spec), {"outside[0]": [0.0]}, **{option[2:].replace("-", "_"): -1})


def test_a_second_sweep_on_the_same_output_is_refused(tmp_path, spec, capsys):
    from ital_opt.sweep.store import Lock

    out = tmp_path / "s.csv"
    held = Lock(out)  # a sweep in progress
    try:
        refused(["sweep", spec, "--vary", "outside[0]=0,0.1", "--out", out, "--quiet"], capsys,
                "another sweep is writing")
        assert not out.exists()
    finally:
        held.release()
    assert main(["sweep", str(spec), "--vary", "outside[0]=0,0.1", "--out", str(out), "--quiet"]) == 0
    assert not (tmp_path / "s.csv.lock").exists()


def _children(pid: int) -> set[int]:
    """The child processes of `pid`, whichever of its threads started them."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_pool_workers_end_when_the_sweep_is_killed(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    out = tmp_path / "s.csv"
    args = [sys.executable, "-m", "ital_opt", "sweep", str(ROOT / "formulations" / "ch3_example_3_1.toml"),
            "--vary", "outside[1]=0:0.8:400", "--method", "cvxpy", "--workers", "2", "--chunk-size", "1",
            "--executor", executor, "--out", str(out), "--quiet"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers = _children(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the pool did not start"
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as kill -9 PID does
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "orphaned workers keep running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- property: whatever the input, the command line answers 0, 1 or 2 and raises nothing ---------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

BASES = {  # one quick bundled spec per kind; kinds without one start from {"kind": KIND}
    "screening": "screening_two_types.toml", "admission": "ch3_example_3_2.toml", "team": "ch4_example_4_1.toml",
    "coalition": "coalition_bankruptcy_talmud.toml", "moral_hazard": "mh_2x2_risk_averse.toml",
    "policy": "policy_A1_member_rates.toml", "evolution": "evo_e1_operation.toml",
}


def _base(kind: str) -> dict:
    from ital_opt.spec import FORMULATIONS, read_toml

    path = FORMULATIONS / BASES.get(kind, "")
    if not path.is_file():
        return {"kind": kind}
    data = read_toml(path)
    for key, value in data.items():  # paths to other specs stay valid from a temporary directory
        if isinstance(value, str) and value.endswith(".toml") and (FORMULATIONS / value).is_file():
            data[key] = str(FORMULATIONS / value)
    return data


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def _toml(data: dict) -> str:
    return "".join(f"{json.dumps(str(k))} = {_toml_value(v)}\n" for k, v in data.items())


NAMES = ["theta", "q", "e", "e1", "e2", "w", "k", "x", "c", "__import__", "os", "self"]
_ATOMS = st.one_of(st.sampled_from(NAMES), st.integers(-3, 10**6).map(str),
                   st.sampled_from(["0", "0.5", "1e308", "1e-320", "9**9**9", "10**400", "1/0", "(-8)**(1/3)"]))


def _grow(inner):
    binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "//", "%", "@", "<", "and", "if 1 else"]),
                       inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    call = st.tuples(st.sampled_from(["sqrt", "log", "exp", "abs", "square", "sin", "eval", "open", "max"]),
                     inner).map(lambda t: f"{t[0]}({t[1]})")
    other = st.one_of(inner.map(lambda s: f"-{s}"), inner.map(lambda s: f"{s}.real"), inner.map(lambda s: f"{s}[0]"),
                      inner.map(lambda s: f"lambda: {s}"), inner.map(lambda s: s + ")"))
    return st.one_of(binary, call, other)


EXPRESSIONS = st.recursive(_ATOMS, _grow, max_leaves=8)
NUMBERS = st.one_of(st.integers(-10, 10), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 0.5, 1.0, 2.0]))
VALUES = st.recursive(
    st.one_of(NUMBERS, st.booleans(), EXPRESSIONS, st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NAMES + ["a+b", "set", "cases"]),
                                                                       inner, max_size=3)),
    max_leaves=12,
)


@st.composite
def specs(draw):
    from ital_opt.kinds import kinds

    kind = draw(st.sampled_from(kinds()))
    data = _base(kind)
    keys = sorted(set(data) - {"kind"}) or ["title"]
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "set", "set", "add", "expression"]))
        key = draw(st.sampled_from(keys))
        if action == "drop":
            data.pop(key, None)
        elif action == "set":
            data[key] = draw(VALUES)
        elif action == "add":
            data[draw(st.sampled_from(NAMES + ["params", "expected", "kind"]))] = draw(VALUES)
        else:
            data[key] = draw(EXPRESSIONS)
    return data


def _run_main(args) -> tuple[int, str]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=specs())
def test_random_specs_of_every_kind_exit_0_1_or_2(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("spec") / "random.toml"
    path.write_text(_toml(data))
    code, err = _run_main(["solve", str(path), "--format", "json"])
    assert code in (0, 1, 2), err
    if code == 2:
        assert "random.toml" in err or "--" in err, err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent=EXPRESSIONS)
def test_random_expressions_exit_0_1_or_2(tmp_path_factory, agent):
    path = tmp_path_factory.mktemp("spec") / "expr.toml"
    path.write_text(SCREENING + f"agent = {json.dumps(agent)}\n")
    code, err = _run_main(["solve", str(path), "--format", "json"])
    assert code in (0, 1, 2), err
    if code == 2:
        assert "field 'agent'" in err or "expr.toml" in err, err
