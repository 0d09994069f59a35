"""The admission kind's figures (docs/theory/admission.md), through the hooks figures() and sweep_figures()."""

import numpy as np
import pytest

import ital_opt
from ital_opt.admission import Admission
from ital_opt.admission import figures
from ital_opt.sweep import sweep

EXAMPLE_31 = dict(theta=[1.0, 1.5], prob=[0.6, 0.4], c=1.0, rho=2.0, sigma2=0.4, outside=[0.0, 0.0])


def test_figures_of_example_3_1_write_png_and_svg(tmp_path):
    problem = ital_opt.load("formulations/ch3_example_3_1.toml")
    pairs = problem.figures(problem.solve())
    assert [c.split(":")[0] for c, _ in pairs][0].startswith("shares and information rents")
    assert len(pairs) == 2
    for i, (caption, fig) in enumerate(pairs):
        for fmt in ("png", "svg"):
            path = tmp_path / f"fig{i}.{fmt}"
            fig.savefig(path)
            assert path.stat().st_size > 1000
    assert (tmp_path / "fig0.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "fig0.svg").read_bytes()[:2000]


def test_regimes_figure_passes_through_every_regime():
    # example 3-1's regime table (docs/theory/admission.md): I at g = 0, II at 0.1, III at 0.2, IV at 0.4
    fig = figures.regimes(Admission(**EXAMPLE_31), np.linspace(0.0, 0.8, 9))
    names = [r for _, r in fig.regimes]
    assert names[0] == "I" and names[-1] == "IV" and {"II", "III"} <= set(names)
    assert dict(fig.regimes)[0.1] == "II" and dict(fig.regimes)[0.2] == "III"


def test_prior_figure_for_three_types():
    p = Admission(theta=[1.0, 1.25, 1.5], prob=[0.3, 0.4, 0.3], c=1.0, rho=2.0, sigma2=0.4)
    fig = figures.prior(p, [0.2, 0.5])
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 6  # a share and a first best per type
    assert len(p.figures()) == 1  # no regimes figure beyond two types
    with pytest.raises(ValueError):
        figures.regimes(p)


def test_sweep_figures_shade_the_regimes():
    problem = Admission(**EXAMPLE_31)
    table = sweep(problem, {"outside[1]": np.linspace(0.0, 0.8, 9)}, progress=False)
    pairs = problem.sweep_figures(table, ["outside[1]"])
    assert len(pairs) == 1 and "regimes" in pairs[0][0]
    no_regime = table.drop(columns=["regime"])
    assert problem.sweep_figures(no_regime, ["outside[1]"]) == []
