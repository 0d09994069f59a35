"""Generic figures: the plot and report services reach a kind only through its hooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ital_opt
from ital_opt.cli import main
from ital_opt.problem import Field, Method, Problem
from ital_opt.result import Result


class Line(Problem):
    """max_x  a*x - x**2/2 over x in [0, cap]: x* = min(a, cap).  Draws one figure of its own."""

    kind = "test_line"
    fields = {"a": Field(float, doc="slope"), "cap": Field(float, 10.0, "upper bound")}
    drawn: list = []

    def methods(self):
        return [Method("closed-form", type(self)._solve, closed_form=True)]

    @staticmethod
    def _solve(problem):
        x = min(problem.a, problem.cap)
        rows = pd.DataFrame({"name": ["x", "slack"], "value": [x, problem.cap - x]})
        return Result(status="optimal", objective=problem.a * x - x * x / 2, rows=rows)

    def check(self, result):
        return {"bound_violation": max(0.0, float(result.rows["value"].iloc[0]) - self.cap)}

    def figures(self, result=None):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        xs = np.linspace(0, self.cap, 20)
        ax.plot(xs, self.a * xs - xs**2 / 2)
        Line.drawn.append(result.objective)
        return [("payoff against x", fig)]

    def sweep_figures(self, table, varied):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(table[varied[0]], table["objective"])
        return [("the kind's sweep figure", fig)]


@pytest.fixture()
def line_kind():
    ital_opt.register_kind("test_line", Line)
    Line.drawn = []
    yield Line
    import importlib

    importlib.import_module("ital_opt.kinds")._CLASSES.pop("test_line", None)


def _spec(tmp_path, a=2.0, cap=10.0):
    path = tmp_path / "line.toml"
    path.write_text(f'kind = "test_line"\ntitle = "line"\na = {a}\ncap = {cap}\n')
    return path


def test_plot_spec_saves_the_kinds_figures(tmp_path, line_kind, capsys):
    spec = _spec(tmp_path)
    assert main(["plot", str(spec), "-o", str(tmp_path / "figs")]) == 0
    files = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert files == ["line_payoff_against_x.png"]
    assert (tmp_path / "figs" / files[0]).read_bytes()[:4] == b"\x89PNG"
    assert line_kind.drawn == [pytest.approx(2.0)]  # the hook saw the solved result
    assert main(["plot", str(spec), "-o", str(tmp_path / "one.svg")]) == 0
    assert b"<svg" in (tmp_path / "one.svg").read_bytes()[:2000]


def test_plot_spec_without_kind_figures_draws_row_bars(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('kind = "screening"\ntheta = [1.0, 2.0]\nprob = [0.5, 0.5]\nagent = "theta*q"\n'
                    'principal = "-q**2/2"\n')
    out = tmp_path / "bars.png"
    assert main(["plot", str(spec), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_book_uses_only_kinds_that_draw(tmp_path, line_kind):
    from ital_opt.plot import book_figures

    class Quiet(Line):
        kind = "test_quiet"
        figures = Problem.figures  # draws nothing of its own: not solved for the book

        @staticmethod
        def _solve(problem):
            raise AssertionError("a kind without figures is not solved for the book")

    ital_opt.register_kind("test_quiet", Quiet)
    specs = [_spec(tmp_path, a=1.0), tmp_path / "other.toml"]
    specs[1].write_text('kind = "test_quiet"\na = 1.0\n')
    try:
        written = book_figures(tmp_path / "book", specs=specs)
    finally:
        import importlib

        importlib.import_module("ital_opt.kinds")._CLASSES.pop("test_quiet", None)
    assert [(p.name, c) for p, c in written] == [("line_payoff_against_x.png", "payoff against x")]


def test_report_shows_generic_and_kind_figures(tmp_path, line_kind):
    spec = _spec(tmp_path)
    out = tmp_path / "r.html"
    assert main(["report", str(spec), "-o", str(out), "--vary", "a=1:3:5"]) == 0
    text = out.read_text()
    for caption in ("the solution, row by row", "payoff against x", "sweep: objective against a",
                    "sweep: the kind&#x27;s sweep figure"):
        assert caption in text, caption
    assert text.count("data:image/png;base64,") == 5  # bars, kind, objective, row field, kind's sweep


def test_line_plot_labels_rows_by_a_row_field(tmp_path):
    table = pd.DataFrame({"c": [1, 1, 2, 2], "status": "optimal", "objective": [1, 1, 2, 2], "row": [0, 1, 0, 1],
                          "member": ["ann", "bob", "ann", "bob"], "share": [0.2, 0.8, 0.3, 0.7]})
    from ital_opt.plot import line_plot

    fig = line_plot(table, "c", ["share"])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["member ann", "member bob"]


@pytest.mark.parametrize("args, fragment", [
    (["--x", "c", "--y", "share", "-o", "out.pdf"], "must end in .png or .svg"),
    (["--x", "c", "--y", "nosuch", "-o", "out.png"], "no such column"),
    (["--x", "c", "--y", "share", "-o", "missing/out.png"], "does not exist"),
])
def test_plot_table_refuses_bad_arguments(tmp_path, capsys, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"c": [1.0, 2.0], "status": "optimal", "objective": [1.0, 2.0], "row": [0, 0],
                  "share": [0.1, 0.2]}).to_csv("t.csv", index=False)
    assert main(["plot", "t.csv", *args]) == 2
    assert fragment in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
