"""The foundation: safe expressions, spec validation, results, the method machinery, the CLI's exit codes."""

import json
import subprocess
import sys

import numpy as np
import pytest

import ital_opt
from ital_opt.errors import MethodNotApplicable, SpecError
from ital_opt.expr import parse
from ital_opt.problem import Method, Problem, verify
from ital_opt.result import Result
from ital_opt.spec import SpecReader, set_field


# -- expressions ---------------------------------------------------------------------------------
def test_expression_evaluates_in_every_backend():
    e = parse("theta*sqrt(q) - square(q)/2 + k", {"theta", "q"}, constants={"k": 1.0})
    assert e.names == {"theta", "q"}
    assert e.numpy(theta=2.0, q=4.0) == pytest.approx(2 * 2 - 8 + 1)
    import cvxpy as cp
    import sympy

    q = cp.Variable(nonneg=True)
    assert e.cvxpy(theta=2.0, q=q).is_concave()
    t, x = sympy.symbols("theta q", positive=True)
    assert sympy.simplify(e.sympy(theta=t, q=x) - (t * sympy.sqrt(x) - x**2 / 2 + 1)) == 0


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('true')", "not allowed"),
        ("q.real", "Attribute"),
        ("q[0]", "Subscript"),
        ("lambda: 1", "Lambda"),
        ("open(q)", "function 'open'"),
        ("sin(q)", "function 'sin'"),
        ("q if q else 1", "IfExp"),
        ("q < 1", "Compare"),
        ("x + q", "unknown name 'x'"),
        ("q // 2", "FloorDiv"),
        ("'a'", "only numbers"),
        ("sqrt(q, 2)", "exactly one argument"),
        ("q +", "cannot parse"),
    ],
)
def test_expression_whitelist_rejects(text, fragment):
    with pytest.raises(SpecError) as info:
        parse(text, {"q"}, field="agent")
    assert info.value.field == "agent"
    assert fragment in str(info.value)


# -- spec reader -----------------------------------------------------------------------------------
def test_expression_substitution_renames_and_folds():
    e = parse("e1 + e2 + e3 + 0.5*sqrt(e1*e3) - e2/(1 + e3) + 2*e3**2", {"e1", "e2", "e3"})
    assert e.substitute({"e1": "e1", "e2": 0, "e3": "e2"}) == "e1 + e2 + 0.5 * sqrt(e1 * e2) + 2 * e2 ** 2"
    assert e.substitute({"e1": 0, "e2": "e1", "e3": 0}) == "e1 - e1 / 1.0"  # names swap at once
    assert e.substitute({"e1": "e2", "e2": "e1", "e3": "e3"}).startswith("e2 + e1 + e3")
    assert parse("log(e1) + e2", {"e1", "e2"}).substitute({"e1": 0}) == "log(0.0) + e2"  # not finite: kept
    # negative numbers keep their precedence when the text is read again
    f = parse("(e2 - 1)**e1 + e1*(e2 - 2)", {"e1", "e2"})
    g = parse(f.substitute({"e2": 0}), {"e1"})
    assert g.numpy(e1=np.array(2.0)) == f.numpy(e1=np.array(2.0), e2=np.array(0.0)) == -3.0


def test_reader_validates_and_names_fields():
    r = SpecReader({"p": [0.5, 0.5], "x": [1, 2], "c": 2, "bad": [1, float("nan")]}, "f.toml")
    assert r.probabilities("p").sum() == 1
    assert r.vector("x", increasing=True).tolist() == [1, 2]
    assert r.vector("c", n=3, broadcast=True).tolist() == [2, 2, 2]
    with pytest.raises(SpecError, match=r"f.toml: field 'bad\[1\]': expected a finite number"):
        r.vector("bad")
    with pytest.raises(SpecError, match="field 'p': probabilities must sum to 1"):
        SpecReader({"p": [0.5, 0.6]}, "f.toml").probabilities("p")
    with pytest.raises(SpecError, match="strictly increasing"):
        SpecReader({"x": [2, 1]}).vector("x", increasing=True)
    with pytest.raises(SpecError, match="field 'typo': unknown field"):
        r2 = SpecReader({"typo": 1})
        r2.finish()
    with pytest.raises(SpecError, match="field 'c': must be positive"):
        SpecReader({"c": -1}).number("c", positive=True)
    with pytest.raises(SpecError, match="field 'c': is required but missing"):
        SpecReader({}).number("c")


def test_set_field_forms():
    spec = {"kind": "x", "outside": [0, 0], "params": {"k": 1}, "omega": 0}
    assert set_field(spec, "outside[1]", 0.1)["outside"] == [0, 0.1]
    assert set_field(spec, "params.k", 2)["params"]["k"] == 2
    assert set_field(spec, "omega", 0.5)["omega"] == 0.5
    assert spec["outside"] == [0, 0]  # the original is left alone
    for bad in ("outside[5]", "params.zz", "omega[0]", "kind", "1x"):
        with pytest.raises(SpecError):
            set_field(spec, bad, 1)


# -- a toy kind exercising the method machinery --------------------------------------------------------
class Toy(Problem):
    """min (x - target)^2 over x >= lo; a closed form and a cvxpy formulation."""

    kind = "toy"
    compare = ("x",)

    def _read(self, r):
        self.target = r.number("target")
        self.lo = r.number("lo", 0.0)

    def methods(self):
        return [
            Method("closed-form", _toy_closed, lambda p: None if p.target >= p.lo else "target below lo", True),
            Method("cvxpy", _toy_cvxpy),
        ]

    def check(self, result):
        return {"max_bound_violation": max(0.0, self.lo - result.rows["x"].iloc[0])}


def _toy_closed(p):
    return Result(status="optimal", method="closed-form", objective=0.0, rows={"x": [p.target]})


def _toy_cvxpy(p):
    import cvxpy as cp

    from ital_opt.backends import solve_cvxpy

    x = cp.Variable()
    prob = cp.Problem(cp.Minimize(cp.square(x - p.target)), [x >= p.lo])
    status, name = solve_cvxpy(prob)
    return Result(status=status, method=name, objective=prob.value, rows={"x": [float(x.value)]})


def test_auto_uses_closed_form_only_where_it_applies():
    assert Toy(target=1.0).solve().method == "closed-form"
    r = Toy(target=-1.0).solve()
    assert r.method == "cvxpy/CLARABEL" and r.rows["x"][0] == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(MethodNotApplicable, match="target below lo"):
        Toy(target=-1.0).solve("closed-form")
    with pytest.raises(MethodNotApplicable, match="unknown method"):
        Toy(target=1.0).solve("magic")


def test_verify_compares_methods_and_expected():
    report = verify(Toy(target=2.0, expected={"x": [2.0], "objective": 0.0}))
    assert report.ok, report.to_table()
    assert set(report.results) == {"closed-form", "cvxpy"}
    bad = verify(Toy(target=2.0, expected={"x": [3.0]}))
    assert not bad.ok and "x: expected" in bad.expected_failures[0]
    cases = verify(Toy(target=2.0, expected={"cases": [{"set": {"target": 5.0}, "x": [5.0]}]}))
    assert cases.ok, cases.to_table()


def _toy_off(p, by=3e-9, **fields):
    """The closed form with x off by `by` (relative): a method accurate to only ~1e-8."""
    return Result(status="optimal", method="off", objective=0.0, rows={"x": [p.target * (1 + by)]}, **fields)


def test_verify_compares_no_tighter_than_a_result_or_kind_states(monkeypatch):
    tight = dict(rtol=1e-9, atol=1e-10)
    monkeypatch.setattr(Toy, "methods", lambda self: [Method("closed-form", _toy_closed, closed_form=True),
                                                      Method("off", _toy_off)])
    report = verify(Toy(target=2.0), **tight)
    assert not report.ok and report.disagreements == ["closed-form vs off: x differs"]
    assert verify(Toy(target=2.0), rtol=1e-8).ok  # --rtol loosens it
    # a result that states its precision is compared at it, and no more tightly
    stated = lambda self: [Method("closed-form", _toy_closed, closed_form=True),  # noqa: E731
                           Method("off", lambda p: _toy_off(p, verify_rtol=1e-8))]
    monkeypatch.setattr(Toy, "methods", stated)
    assert verify(Toy(target=2.0), **tight).ok
    monkeypatch.setattr(Toy, "methods", lambda self: [Method("closed-form", _toy_closed, closed_form=True),
                                                      Method("off", lambda p: _toy_off(p, by=3e-7, verify_rtol=1e-8))])
    assert not verify(Toy(target=2.0), **tight).ok  # beyond its stated precision it still disagrees
    monkeypatch.setattr(Toy, "methods", lambda self: [Method("closed-form", _toy_closed, closed_form=True),
                                                      Method("off", _toy_off)])
    monkeypatch.setattr(Toy, "verify_rtol", 1e-8)  # the kind states it for all its results
    assert verify(Toy(target=2.0), **tight).ok


def test_a_gain_within_the_check_tolerance_proves_no_method_wrong(monkeypatch):
    """An answer that passes its checks may be infeasible by up to CHECK_TOL; a local method that is
    better by less than that (here 1e-8 on an objective of 1) does not prove a global claim wrong,
    while a larger gain does."""
    def claim(p):
        return Result(status="optimal", method="claim", objective=1.0, rows={"x": [p.target]})

    def better(by):
        return lambda p: Result(status="optimal", method="local", objective=1.0 + by, rows={"x": [p.target]}, local=True)

    for by, wrong in ((1e-8, False), (1e-4, True)):
        monkeypatch.setattr(Toy, "methods", lambda self, by=by: [Method("claim", claim), Method("local", better(by))])
        report = verify(Toy(target=2.0), rtol=1e-9, atol=1e-10)
        assert any("claims a global optimum" in d for d in report.disagreements) is wrong, report.disagreements


def test_solver_doubts_reach_the_message(monkeypatch):
    from ital_opt import backends
    from ital_opt.errors import SolverWarning

    def doubtful(p):
        for _ in range(2):
            backends.note("ripopt ended with a warning (Search Direction Becomes Too Small)")
        return _toy_closed(p)

    monkeypatch.setattr(Toy, "methods", lambda self: [Method("doubtful", doubtful)])
    r = Toy(target=1.0).solve()
    assert r.success and r.message == "ripopt ended with a warning (Search Direction Becomes Too Small) (2 times)"
    assert json.loads(r.to_json())["message"] == r.message
    with pytest.warns(SolverWarning, match="Too Small"):  # outside Problem.solve: a Python warning
        doubtful(Toy(target=1.0))


def test_result_json_is_strict():
    r = Result(kind="toy", status="optimal", objective=float("nan"), rows={"x": [np.float64(1.0)]},
               checks={"a": 0.0}, extras={"regime": "I"})
    d = json.loads(r.to_json())
    assert d["objective"] is None and d["regime"] == "I" and d["rows"] == [{"x": 1.0}]


# -- the command line --------------------------------------------------------------------------------
def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ital_opt", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(
    "content, field",
    [
        ('kind = "nonsense"\n', "kind"),
        ('title = "no kind"\n', "kind"),
        ('kind = "screening\n', None),  # invalid TOML
    ],
)
def test_cli_bad_input_exit_2(tmp_path, content, field):
    spec = tmp_path / "bad.toml"
    spec.write_text(content)
    out = tmp_path / "out.json"
    proc = run_cli("solve", str(spec), "--format", "json", "-o", str(out))
    assert proc.returncode == 2
    assert str(spec) in proc.stderr
    if field:
        assert f"field '{field}'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_missing_file_exit_2(tmp_path):
    proc = run_cli("solve", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2 and "file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_load_rejects_non_mapping():
    with pytest.raises(SpecError):
        ital_opt.load(42)
