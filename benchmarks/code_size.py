"""The size of the ital_opt package at a git revision: source lines per group.

    python benchmarks/code_size.py [REV ...]      (default: HEAD; run inside the git checkout)

A source line is a line of a ``.py`` file under ital_opt/ that holds code: blank lines, comment
lines and docstrings (the first string of a module, class or function) are not counted, and a
statement over several lines counts each line it spans.  Files are read from git (``git show
REV:path``), so the working tree does not matter.  Groups: each kind's folder (ital_opt/<kind>/
and ital_opt/sweep/) is one group; the modules directly in ital_opt/ are ``core``.  The totals
are printed with and without the groups given by ``--without`` (default: policy and evolution,
the kinds added by the redesign), so that the same features can be compared across revisions.
``--functions`` lists the lines of every function and class (methods also as ``Class.method``,
inside their class's count) and the module-level rest: the accounting of which features the
lines serve, in benchmarks/results/code_size.md, is made from that list.
"""

from __future__ import annotations

import argparse
import ast
import collections
import io
import subprocess
import tokenize


def docstring_lines(tree: ast.AST) -> set[int]:
    """The line numbers of the docstrings of the module, its classes and its functions."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def code_lines(text: str) -> set[int]:
    """The numbers of the lines of `text` (Python source) that hold a token other than a comment or a docstring."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    skip = docstring_lines(tree)
    layout = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in layout:
            lines.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in skip)
    return lines


def source_lines(text: str) -> int:
    """The number of source lines of `text` (see :func:`code_lines`)."""
    return len(code_lines(text))


def definitions(path: str, text: str):
    """(name, source lines) of each top-level function and class of a file, then of each method as
    ``Class.method`` (counted inside its class too), then ``<module level>`` for the rest."""
    lines = code_lines(text)
    if not lines:
        return
    covered = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            span = set(range(min([d.lineno for d in node.decorator_list] + [node.lineno]), node.end_lineno + 1))
            covered |= span
            yield node.name, len(span & lines)
            for item in node.body if isinstance(node, ast.ClassDef) else ():
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    start = min([d.lineno for d in item.decorator_list] + [item.lineno])
                    yield f"{node.name}.{item.name}", len(set(range(start, item.end_lineno + 1)) & lines)
    yield "<module level>", len(lines - covered)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def files(rev: str):
    """(path, text) of every Python file of the package at `rev`."""
    for path in git("ls-tree", "-r", "--name-only", rev, "ital_opt").split():
        if path.endswith(".py"):
            yield path, git("show", f"{rev}:{path}")


def groups(rev: str) -> collections.Counter:
    """Source lines per group of the package at `rev`."""
    out = collections.Counter()
    for path, text in files(rev):
        parts = path.split("/")
        out[parts[1] if len(parts) > 2 else "core"] += source_lines(text)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="*", default=["HEAD"], help="git revisions (default: HEAD)")
    parser.add_argument("--without", nargs="*", default=["policy", "evolution"],
                        help="groups left out of the second total (default: %(default)s)")
    parser.add_argument("--functions", action="store_true",
                        help="list the source lines of every function and class instead (path:name)")
    args = parser.parse_args(argv)
    for rev in args.revs:
        if args.functions:
            for path, text in files(rev):
                for name, n in definitions(path, text):
                    print(f"{n:5d} {path}:{name}")
            continue
        counts = groups(rev)
        print(f"{rev}:")
        for name, n in sorted(counts.items()):
            print(f"  {name:15s} {n}")
        rest = sum(n for name, n in counts.items() if name not in args.without)
        print(f"  total {sum(counts.values())}, without {'/'.join(args.without)} {rest}")


if __name__ == "__main__":
    main()
