"""Executors and interruption: Dask gives the local answer; a killed sweep resumes exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ital_opt
from ital_opt.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent
EX31 = {"kind": "admission", "theta": [1.0, 1.5], "prob": [0.6, 0.4], "c": 1.0, "rho": 2.0, "sigma2": 0.4,
        "outside": [0.0, 0.0]}


@pytest.mark.slow
def test_dask_local_cluster_matches_local_executor():
    distributed = pytest.importorskip("distributed")
    problem = ital_opt.load(EX31)
    grid = {"outside[1]": np.linspace(0.0, 0.8, 6), "rho": [1.0, 2.0]}
    # every point solved by the kind's own method in the workers (not the vectorised shortcut)
    local = sweep(problem, grid, method="closed-form", vectorise=False, workers=2, chunk_size=3)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    try:
        remote = sweep(problem, grid, "dask", method="closed-form", vectorise=False, chunk_size=3,
                       scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert len(local) == 24
    pd.testing.assert_frame_equal(local, remote)
    # closed forms are computed in the calling process whatever the executor
    pd.testing.assert_frame_equal(sweep(problem, grid), sweep(problem, grid, "dask"))


def _committed_points(journal: Path) -> int:
    if not journal.exists():
        return 0
    n = 0
    for line in journal.read_text().splitlines()[1:]:
        try:
            n += len(json.loads(line).get("points", []))
        except ValueError:
            pass
    return n


@pytest.mark.parametrize("how", [signal.SIGKILL, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_killed_sweep_resumes_with_exactly_the_expected_points(tmp_path, how):
    spec = ROOT / "formulations" / "ch3_example_3_1.toml"
    out = tmp_path / "sweep.csv"
    journal = tmp_path / "sweep.csv.journal"
    values, rhos = np.linspace(0.0, 0.8, 12), [1.0, 2.0]
    args = [sys.executable, "-m", "ital_opt", "sweep", str(spec), "--vary", "outside[1]=0:0.8:12",
            "--vary", "rho=1,2", "--method", "cvxpy", "--chunk-size", "2", "--workers", "2", "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # a run started in the background of a non-interactive shell inherits SIGINT ignored (POSIX):
    # give the sweep the default disposition, as an interactive user's Ctrl-C would find it
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while _committed_points(journal) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
        os.killpg(proc.pid, how)  # the sweep and its worker processes
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    done_before = _committed_points(journal)
    assert 4 <= done_before < 24
    assert journal.exists()  # unfinished
    result = subprocess.run(args + ["--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not journal.exists()
    table = pd.read_csv(out)
    points = table[["outside[1]", "rho"]].drop_duplicates()
    assert len(points) == 24 and len(table) == 48  # every point once, two rows each
    assert table.groupby(["outside[1]", "rho"]).size().eq(2).all()
    expected = {(round(v, 12), r) for v in values for r in rhos}
    assert {(round(v, 12), r) for v, r in points.itertuples(index=False)} == expected
    # and the numbers are those of a fresh sweep
    fresh = sweep(ital_opt.load(spec), {"outside[1]": values, "rho": rhos})
    np.testing.assert_allclose(table["objective"], fresh["objective"], atol=1e-6)
    np.testing.assert_allclose(table["share"], fresh["share"], atol=1e-6)
