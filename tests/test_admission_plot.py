"""Chapter 3 figures (BOOK.md §2): the plotting functions write PNG and SVG files."""

import numpy as np
import pytest

from ital_opt.admission import Admission
from ital_opt.admission.plot import figure_prior, figure_regimes, main, save

EXAMPLE_31 = dict(theta=[1.0, 1.5], prob=[0.6, 0.4], c=1.0, rho=2.0, sigma2=0.4, outside=[0.0, 0.0])


def test_figures_write_png_and_svg(tmp_path):
    p = Admission(**EXAMPLE_31)
    paths = save(figure_prior(p, np.linspace(0.1, 0.9, 5)), tmp_path / "prior")
    fig = figure_regimes(p, np.linspace(0.0, 0.8, 9))
    paths += save(fig, tmp_path / "regimes")
    assert [x.suffix for x in paths] == [".png", ".svg"] * 2
    assert all(x.stat().st_size > 1000 for x in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:2000]
    regimes = [r for _, r in fig.regimes]
    assert regimes[0] == "I" and regimes[-1] == "IV" and {"II", "III"} <= set(regimes)


def test_prior_figure_for_three_types(tmp_path):
    p = Admission(theta=[1.0, 1.25, 1.5], prob=[0.3, 0.4, 0.3], c=1.0, rho=2.0, sigma2=0.4)
    fig = figure_prior(p, [0.2, 0.5])
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 6  # a share and a first best per type
    with pytest.raises(ValueError):
        figure_regimes(p)


def test_plot_command_line(tmp_path, capsys):
    spec = tmp_path / "ex.toml"
    spec.write_text("\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in
                              dict(kind="admission", **EXAMPLE_31).items()) + "\n")
    assert main([str(spec), "--out", str(tmp_path / "figs"), "--points", "5"]) == 0
    names = sorted(x.name for x in (tmp_path / "figs").iterdir())
    assert names == ["ex_prior.png", "ex_prior.svg", "ex_regimes.png", "ex_regimes.svg"]
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.read_text().replace("c = 1.0", "c = -1.0"))
    assert main([str(bad)]) == 2 and "'c'" in capsys.readouterr().err
