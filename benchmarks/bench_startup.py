"""Start-up time: ``import ital_opt`` and the main job, each a fresh interpreter, against baselines.

Targets: ``python -c "import ital_opt"`` under 0.3 s and the main job
(``ital-opt solve formulations/ch3_example_3_1.toml``) under 0.8 s of wall time.  The baselines
(``python -c pass``, ``import numpy``, ``import pandas``) are timed in the same run, so that a
loaded machine shows as slow baselines too.  ``-X importtime`` lists the slowest imports of the
main job.

    python benchmarks/bench_startup.py [--repeat 15] [--out FILE]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from common import TaskTable, arguments, machine, write

ROOT = Path(__file__).resolve().parent.parent
SPEC = "formulations/ch3_example_3_1.toml"
MAIN_JOB = [sys.executable, "-m", "ital_opt", "solve", SPEC]


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def slowest_imports(cmd: list[str], count: int = 12) -> list[str]:
    """The modules with the largest cumulative import time in one run of `cmd` (``-X importtime``)."""
    out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=ROOT, capture_output=True, text=True,
                         env=ENV, check=True).stderr
    rows = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(3)) <= 2:  # top-level imports and their direct children
            rows.append((int(m.group(2)) / 1e6, m.group(4).strip()))
    rows.sort(reverse=True)
    return [f"| {name} | {seconds:.3f} |" for seconds, name in rows[:count]]


# the checkout's package, whatever is installed
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def main() -> None:
    parser = arguments("startup", __doc__.splitlines()[0], repeat=15)
    args = parser.parse_args()
    header = machine()
    table = TaskTable(repeat=args.repeat, warmup=2, digits=3)
    table.record("python -c pass (baseline)", 1, lambda: run(python("pass")))
    table.record("python -c 'import numpy' (baseline)", 1, lambda: run(python("import numpy")))
    table.record("python -c 'import pandas' (baseline)", 1, lambda: run(python("import pandas")))
    table.record("python -c 'import ital_opt'", 1, lambda: run(python("import ital_opt")), target=0.3)
    table.record("ital-opt --version", 1, lambda: run([sys.executable, "-m", "ital_opt", "--version"]))
    table.record(f"ital-opt solve {SPEC} (the main job)", 1, lambda: run(MAIN_JOB), target=0.8)
    median = {row[0]: row[2] for row in table.rows}
    own_import = median["python -c 'import ital_opt'"] - median["python -c 'import numpy' (baseline)"]
    own_job = median[f"ital-opt solve {SPEC} (the main job)"] - median["python -c 'import pandas' (baseline)"]
    lines = [
        "# Start-up time",
        "",
        "Each task starts a fresh interpreter (wall time, median and best of "
        f"{args.repeat} runs after 2 warm-up runs); `python benchmarks/bench_startup.py`.",
        "",
        "## Machine",
        "",
        *header,
        "",
        "## Results",
        "",
        *table.lines("runs"),
        "",
        "On a loaded machine every line is slower, the baselines too: ital_opt's own share is the",
        f"difference with its baseline — `import ital_opt` beyond `import numpy`: {own_import:.3f} s; the main",
        f"job beyond `import pandas` (which every solve needs for its result table): {own_job:.3f} s.",
        "",
        "## Slowest imports of the main job (`-X importtime`, cumulative, one run)",
        "",
        "| module | seconds |",
        "|---|---|",
        *slowest_imports(MAIN_JOB),
        "",
    ]
    write(args.out, lines)


if __name__ == "__main__":
    main()
