"""The kind protocol of ital_opt.problem: declared fields, registration, solving options, auto's
fallback, verify's rule that a feasible better answer refutes a claimed global optimum."""

from __future__ import annotations

import inspect
import pickle

import pytest

import ital_opt
from ital_opt.errors import OptionError, SpecError


class Quadratic(ital_opt.Problem):
    """Maximise a - (x - b)**2 over x: the answer is x = b, worth a."""

    kind = "quadratic_test"
    fields = {"a": float, "b": ital_opt.Field(float, 0.0, "the maximiser")}

    def methods(self):
        return [
            ital_opt.Method("closed-form", _closed_form, closed_form=True),
            ital_opt.Method("grid", _grid, options=frozenset({"points"})),
        ]

    def check(self, result):
        x = float(result.rows["x"].iloc[0])
        return {"objective_mismatch": abs(result.objective - (self.a - (x - self.b) ** 2))}


def _closed_form(p, **options):
    return ital_opt.Result(status="optimal", method="closed-form", objective=p.a, rows=[{"x": p.b}])


def _grid(p, points: int = 2001, **options):
    import numpy as np

    x = np.linspace(p.b - 10, p.b + 10, points)
    values = p.a - (x - p.b) ** 2
    i = int(np.argmax(values))
    return ital_opt.Result(status="optimal", method="grid", objective=float(values[i]), rows=[{"x": float(x[i])}])


@pytest.fixture(autouse=True)
def registered():
    ital_opt.register_kind("quadratic_test", Quadratic)
    yield


def test_declared_fields_read_by_type_and_give_a_signature():
    p = ital_opt.load({"kind": "quadratic_test", "a": 2})
    assert (p.a, p.b) == (2.0, 0.0)
    sig = inspect.signature(Quadratic)
    assert list(sig.parameters)[:2] == ["a", "b"]
    assert sig.parameters["a"].default is inspect.Parameter.empty and sig.parameters["b"].default == 0.0
    with pytest.raises(SpecError, match="field 'a'"):
        ital_opt.load({"kind": "quadratic_test", "a": "two"})
    with pytest.raises(SpecError, match="field 'c'"):
        ital_opt.load({"kind": "quadratic_test", "a": 1, "c": 3})


def test_registered_kind_is_listed_and_builtin_classes_are_public():
    assert "quadratic_test" in ital_opt.kinds()
    for name in ("Screening", "Admission", "Team", "Coalition", "MoralHazard", "Policy", "Evolution"):
        assert name in ital_opt.__all__ and name in dir(ital_opt)
        cls = getattr(ital_opt, name)
        assert issubclass(cls, ital_opt.Problem)
        assert len(inspect.signature(cls).parameters) > 3  # the declared fields, not **fields


def test_unknown_solver_or_option_is_refused():
    p = Quadratic(a=1.0, b=2.0)
    with pytest.raises(OptionError, match="field 'solver'"):
        p.solve("closed-form", solver="CLARABEL")
    with pytest.raises(OptionError, match="field 'bogus'"):
        p.solve("grid", bogus=42)
    assert p.solve("grid", points=11).success
    team = ital_opt.load("formulations/ch4_example_4_1.toml")
    with pytest.raises(OptionError):
        team.solve("closed-form", solver="SCS")


def test_auto_falls_back_and_says_so():
    class Flaky(Quadratic):
        kind = "quadratic_flaky"

        def methods(self):
            failing = ital_opt.Method("closed-form", lambda p, **o: ital_opt.Result(status="not_solved"), closed_form=True)
            return [failing, *super().methods()[1:]]

    result = Flaky(a=1.0, b=0.5).solve()
    assert result.success and result.method == "grid"
    assert "closed-form ended not_solved" in result.message


def test_non_finite_objective_is_never_optimal():
    class Broken(Quadratic):
        kind = "quadratic_broken"

        def methods(self):
            nan = ital_opt.Method("closed-form", lambda p, **o: ital_opt.Result(
                status="optimal", objective=float("nan"), rows=[{"x": 0.0}]), closed_form=True)
            return [nan]

    result = Broken(a=1.0).solve("closed-form")
    assert result.status == "not_solved" and not result.success


def test_verify_fails_when_a_feasible_answer_beats_a_global_claim():
    class Wrong(Quadratic):
        kind = "quadratic_wrong"

        def methods(self):
            # a "closed form" that claims the optimum at x = b + 1, worth a - 1: the grid beats it
            wrong = ital_opt.Method("closed-form", lambda p, **o: ital_opt.Result(
                status="optimal", objective=p.a - 1, rows=[{"x": p.b + 1}]), closed_form=True)
            return [wrong, ital_opt.Method("grid", _grid, options=frozenset({"points"}))]

        def check(self, result):
            return {}

    report = ital_opt.verify(Wrong(a=3.0, b=1.0))
    assert not report.ok
    assert any("claims a global optimum" in d for d in report.disagreements)
    assert ital_opt.verify(Quadratic(a=3.0, b=1.0)).ok


def test_verify_refuses_bad_tolerances():
    with pytest.raises(SpecError, match="rtol"):
        ital_opt.verify(Quadratic(a=1.0), rtol=-1)


def test_results_and_problems_pickle_and_render():
    problem = ital_opt.load("formulations/ch3_example_3_1.toml")
    result = problem.solve()
    again = pickle.loads(pickle.dumps(result))
    assert again.objective == result.objective and again.to_dict() == result.to_dict()
    assert pickle.loads(pickle.dumps(problem)).solve().objective == pytest.approx(result.objective, abs=1e-12)
    assert "<table" in result._repr_html_() and "success" in result.to_dict()
    del again.message
    assert "message" not in again
    assert "verify" in ital_opt.verify(problem)._repr_html_()


def test_solver_record_names_the_solver_and_its_tolerances():
    result = ital_opt.load("formulations/ch4_example_4_1.toml").solve("cvxpy")
    assert result.solver["name"].startswith("cvxpy/")
    assert result.solver["options"]  # the tolerances the solver ran with
    assert "cvxpy" in ital_opt.installed_solvers()


def test_expected_lists_of_words_compare_exactly():
    from ital_opt.problem import compare_expected

    result = ital_opt.Result(status="optimal", objective=1.0, rows=[{"label": "ess"}, {"label": "saddle"}])
    assert compare_expected(result, {"label": ["ess", "saddle"]}, 1e-9) == []
    assert compare_expected(result, {"label": ["ess", "source"]}, 1e-9)


def test_verify_takes_several_specs_in_one_process(tmp_path):
    import json
    import subprocess
    import sys

    specs = ["formulations/ch3_example_3_1.toml", "formulations/coalition_glove.toml"]
    run = subprocess.run([sys.executable, "-m", "ital_opt", "verify", *specs], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("verify: OK") == 2
    out = subprocess.run([sys.executable, "-m", "ital_opt", "verify", *specs, "--format", "json"],
                         capture_output=True, text=True)
    assert sorted(json.loads(out.stdout)) == sorted(specs)
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "screening"\ntheta = "x"\n')
    refused = subprocess.run([sys.executable, "-m", "ital_opt", "verify", specs[0], str(bad)], capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stdout == "" and "field 'theta'" in refused.stderr


def test_command_line_passes_solver_and_options_and_refuses_unknown_ones():
    import json
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "ital_opt", "solve", *args], capture_output=True, text=True)

    talmud = "formulations/coalition_bankruptcy_talmud.toml"
    sampled = run(talmud, "--option", "samples=400", "--option", "seed=3", "--format", "json")
    assert sampled.returncode == 0, sampled.stderr
    team = "formulations/ch4_example_4_1.toml"
    out = run(team, "--method", "cvxpy", "--option", "tol_feas=1e-9", "--format", "json")
    assert json.loads(out.stdout)["solver"]["options"]["tol_feas"] == 1e-9
    for bad in (["--option", "bogus=1"], ["--method", "closed-form", "--solver", "SCS"], ["--option", "x"]):
        refused = run(team, *bad)
        assert refused.returncode == 2 and refused.stdout == "", bad
    assert "ch4_example_4_1.toml: field 'bogus'" in run(team, "--option", "bogus=1").stderr
