"""A problem is declared once; its methods are interchangeable ways to solve it.

This module is the protocol every kind implements (``docs/ARCHITECTURE.md`` has the recipe):

* ``kind`` and ``fields``: the kind's name and its declared schema, ``{name: type}`` or
  ``{name: Field(type, default, doc)}``.  The schema gives the class an explicit constructor
  signature (``help(ital_opt.Team)``) and, unless the kind reads its fields itself in
  ``_read(reader)``, reads and validates them (a ``float`` field with :meth:`SpecReader.number`,
  a ``list`` with :meth:`SpecReader.vector`, ...).  Unknown fields are always refused.
* ``methods()``: the :class:`Method` objects in order of preference; a closed form first, with
  the check of its assumptions as ``applies``.  ``formulations()``: the :class:`Formulation`
  objects behind the numerical methods, so that ``problem.formulation(name).build()`` hands the
  user the built ``cvxpy.Problem`` or pyomo model.
* ``check(result)``: the certificates, computed from the result's numbers alone.
* optional hooks, with empty defaults, through which the generic services (sweep, plot, report)
  reach a kind without naming it: ``closed_form_batch(points)`` (a vectorised closed form over
  many parameter points), ``parametric(names, method)`` (a formulation built once and re-solved
  with changed numbers), ``figures(result)`` and ``sweep_figures(table, varied)``.  A kind that
  is a package with the rooms of ``docs/ARCHITECTURE.md`` need not write ``formulations()``,
  ``figures`` or ``sweep_figures``: by default they are ``FORMULATIONS`` of its ``formulations``
  module and the functions ``figures(problem, result)`` and ``sweep_figures(problem, table,
  varied)`` of its ``figures`` module (:func:`kind_room`).

The base class does the rest: ``solve(method="auto")`` takes the first method whose assumptions
hold and, when it fails, the next (saying so in the message); it validates the solving options,
times the method and attaches the checks.  :func:`verify` runs every applicable method and
compares their answers with each other and with the spec's ``[expected]`` values; a feasible
answer that beats a method claiming a global optimum proves that method wrong.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import keyword
import re
import textwrap
import time
import types
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from ._optional import MissingExtra
from .errors import MethodNotApplicable, OptionError, SolverUnavailable, SpecError
from .files import recording_reads
from .kinds import register  # noqa: F401  (re-exported for the kinds)
from .result import Result, jsonable
from .spec import REQUIRED, SpecReader, set_field
from .tolerances import BEAT_ATOL, BEAT_RTOL, EXPECTED_TOL, VERIFY_ATOL, VERIFY_RTOL

if TYPE_CHECKING:  # pandas is imported where a table is made, so that `import ital_opt` stays fast
    import pandas as pd


def _always(problem) -> str | None:
    return None


@dataclass(frozen=True)
class Field:
    """One declared field of a kind: its type, its default and a line of documentation.

    A kind declares ``fields = {name: Field(type, default, doc)}``; the declaration gives the
    problem class its constructor signature and the "Parameters" section of its docstring, and
    (unless the kind reads its fields itself) the reading and validation of the field.

    Parameters
    ----------
    type : type or union of types, default float
        ``float``, ``int``, ``bool``, ``str``, ``list`` (of numbers) or ``dict`` (a table): the
        field is read and validated as such.  Any other type, or a union such as
        ``float | list`` (a number, or one per type), keeps the raw value for the kind to
        validate in ``_read``; the union is what the documentation shows.
    default : object, optional
        The value when the field is left out; ``ital_opt.spec.REQUIRED`` (the default) makes
        the field required, None makes it optional without a value.
    doc : str, default ""
        What the field means, in a sentence or two: units, shape (a number, or one per member),
        range.  Written as reStructuredText (the class docstring quotes it); a word with ``*``,
        ``|`` or a trailing ``_`` is shown as code.

    See Also
    --------
    Problem : Whose subclasses declare their fields.
    """

    type: Any = float
    default: Any = REQUIRED
    doc: str = ""


def read_field(r: SpecReader, name: str, spec: Field) -> Any:
    """Read one field by its declared type."""
    readers: dict[Any, Callable[..., Any]] = {float: r.number, int: r.integer, bool: r.boolean, str: r.string,
                                              dict: r.table, list: lambda name, default: r.vector(name, None, default)}
    return readers.get(spec.type, r.raw)(name, spec.default)


@dataclass(frozen=True)
class Method:
    """One way to solve a problem: ``run(problem, **options) -> Result``.

    A kind's ``methods()`` returns these in order of preference; :meth:`Problem.solve` picks one
    by name (or the first that applies under ``"auto"``), checks the solving options against the
    declaration with :meth:`call_options` and calls ``run``.  Each parameter is kept as the
    attribute of the same name.

    Parameters
    ----------
    name : str
        The method's name, as ``solve(method=...)`` takes it: ``"closed-form"``,
        ``"cvxpy-lp"``, ``"pyomo-nlp"``, ...  A prefix before a dash (``"cvxpy"``) selects the
        first applicable method of that family.
    run : callable
        ``run(problem, **options)`` returning a :class:`Result`.
    applies : callable, optional
        ``applies(problem)`` returns None when the method fits the problem, else the reason it
        does not (a closed form names the assumption that fails).  By default it always fits.
    closed_form : bool, default False
        Whether the method is a closed form (it then takes no options unless it declares some).
    solvers : tuple of str, default ()
        The solvers the method can use, its default first; empty: it uses none.
    options : frozenset of str or None, default None
        The method's own option names (``starts``, ``samples``, ...).  Any other keyword given
        to ``solve`` is a solver option, refused by a method that uses no solver and checked by
        the solver's backend otherwise.  None declares nothing: every keyword is passed through
        unchecked (a closed form then takes no options).

    See Also
    --------
    Formulation.method : The Method of a formulation.
    """

    name: str
    run: Callable[..., Result]
    applies: Callable[[Any], str | None] = _always
    closed_form: bool = False
    solvers: tuple[str, ...] = ()
    options: frozenset[str] | None = None

    def matches(self, wanted: str) -> bool:
        """Whether `wanted` names this method, exactly or as the family before a dash.

        Parameters
        ----------
        wanted : str
            A method name (``"cvxpy-lp"``) or family (``"cvxpy"``).

        Returns
        -------
        bool
            True for the method's own name and for the prefix of ``NAME-...``.
        """
        return self.name == wanted or self.name.startswith(wanted + "-")

    def call_options(self, problem, solver: str | None, verbose: bool, options: Mapping[str, Any]) -> dict:
        """The keywords for ``run``, after checking `solver` and `options` against the declaration.

        Parameters
        ----------
        problem : Problem
            The problem to be solved (its ``source`` is named in errors).
        solver : str or None
            One of ``solvers`` (any case), or None for the method's default.
        verbose : bool
            Whether the solver prints its log.
        options : mapping
            The remaining keywords given to ``solve``.

        Returns
        -------
        dict
            `options`, with ``solver`` (spelled as declared) and ``verbose`` added when given.

        Raises
        ------
        OptionError
            A solver the method does not use, or an option it does not declare (for a method
            that uses no solver).
        """
        where = problem.source
        if solver is not None:
            if not self.solvers:
                raise OptionError("solver", f"method '{self.name}' uses no solver, so solver={solver!r} has no meaning", where)
            known = {s.upper(): s for s in self.solvers}
            if str(solver).upper() not in known:
                raise OptionError("solver", f"unknown solver {solver!r} for method '{self.name}' "
                                  f"(choose from {', '.join(self.solvers)})", where)
            solver = known[str(solver).upper()]
        declared = self.options if self.options is not None else (frozenset() if self.closed_form else None)
        if declared is not None and not self.solvers:
            unknown = sorted(set(options) - set(declared))
            if unknown:
                takes = ", ".join(sorted(declared)) or "none"
                raise OptionError(unknown[0], f"unknown option for method '{self.name}' (its options: {takes})", where)
        out = dict(options)
        if solver is not None:
            out["solver"] = solver
        if verbose:
            out["verbose"] = True
        return out


class Formulation:
    """One way to write a problem as a program: ``applies``, ``build`` and ``recover``.

    A kind subclasses it once per formulation and lists the instances in its ``formulations()``
    hook; ``problem.formulation(name).build()`` then hands the user the built model to inspect,
    extend or export.  The subclass sets the class attributes below and takes no constructor
    arguments.

    Attributes
    ----------
    name : str
        The formulation's name, also the name of its :class:`Method` (``"cvxpy-lp"``, ...).
    solvers : tuple of str
        The solvers ``run`` can use, its default first (see :class:`Method`).
    options : frozenset of str
        The formulation's own option names; other keywords are solver options.
    """

    name: ClassVar[str] = ""
    solvers: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[frozenset[str]] = frozenset()

    def applies(self, problem) -> str | None:
        """Whether the formulation fits `problem` (by default it always does).

        Parameters
        ----------
        problem : Problem
            The problem to write as a program.

        Returns
        -------
        str or None
            None when it fits, else the reason it does not.
        """
        return None

    def build(self, problem, **options):
        """The program of `problem`, built with solver objects from :mod:`ital_opt.backends` only.

        Parameters
        ----------
        problem : Problem
            The problem to write as a program.
        **options
            The formulation's own options.

        Returns
        -------
        object
            The model: a ``cvxpy.Problem``, a pyomo ``ConcreteModel``, ...
        """
        raise NotImplementedError

    def recover(self, problem, model) -> Result:
        """Read a solved model back into a result.

        Parameters
        ----------
        problem : Problem
            The problem the model was built from.
        model : object
            What :meth:`build` returned, solved.

        Returns
        -------
        Result
            The answer in the kind's terms (rows, objective, extras), without checks:
            :meth:`Problem.solve` adds them.
        """
        raise NotImplementedError

    def run(self, problem, **options) -> Result:
        """Build, solve and recover: what the formulation's :class:`Method` calls.

        A formulation whose solve is more than one call (constraint generation, polishing)
        writes its own loop here.

        Parameters
        ----------
        problem : Problem
            The problem to solve.
        **options
            ``solver``, ``verbose``, the formulation's own options and the solver's.

        Returns
        -------
        Result
            The recovered answer.
        """
        raise NotImplementedError

    def method(self) -> Method:
        """The formulation as a :class:`Method` (its name, ``run``, ``applies``, solvers, options).

        Returns
        -------
        Method
            What the kind's ``methods()`` lists for this formulation.
        """
        return Method(self.name, self.run, self.applies, solvers=self.solvers, options=self.options)


@dataclass(frozen=True)
class BoundFormulation:
    """A formulation with its problem: ``build()`` the model to inspect, extend or export it.

    What :meth:`Problem.formulation` returns.  Each parameter is kept as the attribute of the
    same name.

    Parameters
    ----------
    problem : Problem
        The problem the formulation writes.
    formulation : Formulation
        One of the problem's :meth:`~Problem.formulations`.
    """

    problem: Any
    formulation: Formulation

    @property
    def name(self) -> str:
        """The formulation's name (also its method's)."""
        return self.formulation.name

    def build(self, **options):
        """The problem's model, to inspect, extend (more constraints) or export.

        Parameters
        ----------
        **options
            The formulation's own options.

        Returns
        -------
        object
            A ``cvxpy.Problem``, a pyomo ``ConcreteModel``, ...; solve it, then :meth:`recover`.

        Raises
        ------
        MethodNotApplicable
            The formulation does not fit the problem (the reason says why).
        """
        reason = self.formulation.applies(self.problem)
        if reason is not None:
            raise MethodNotApplicable(self.name, reason)
        return self.formulation.build(self.problem, **options)

    def recover(self, model) -> Result:
        """Read a model built by :meth:`build`, once solved, back into a result.

        Parameters
        ----------
        model : object
            The solved model.

        Returns
        -------
        Result
            Without checks; ``problem.check(result)`` computes them.
        """
        return self.formulation.recover(self.problem, model)

    def solve(self, **options) -> Result:
        """Solve the problem by this formulation, as ``problem.solve(name, **options)`` does.

        Parameters
        ----------
        **options
            ``solver``, ``verbose``, the formulation's options and the solver's.

        Returns
        -------
        Result
            With its checks.
        """
        return self.problem.solve(self.name, **options)


def _fields_as_passed(cls) -> tuple[dict[str, Field], dict[str, Field]]:
    """The fields passed by name (the kind's, then those of :data:`COMMON_DOCS` it does not
    declare), and those named by a Python keyword (``lambda``), passed as ``**{"lambda": ...}``."""
    schema = cls.schema()
    named = {name: spec for name, spec in schema.items() if not keyword.iskeyword(name)}
    named.update((name, spec) for name, spec in COMMON_DOCS.items() if name not in schema)
    return named, {name: spec for name, spec in schema.items() if keyword.iskeyword(name)}


def _signature(cls) -> inspect.Signature:
    """Keyword-only parameters, one per declared field (annotated with its type) and per common
    field; a field named by a Python keyword cannot be a parameter and is left to ``**``."""
    named, spelled_otherwise = _fields_as_passed(cls)
    params = []
    for name, spec in named.items():
        default = inspect.Parameter.empty if spec.default is REQUIRED else spec.default
        typed = name in cls.fields and isinstance(spec.type, (type, types.UnionType))
        annotation = spec.type if typed else inspect.Parameter.empty
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    if spelled_otherwise:
        params.append(inspect.Parameter("keyword_fields", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)


# -- the Parameters section of a problem class, made from its declared fields -------------------
COMMON_DOCS = {
    "title": Field(str, "", "Free text naming the problem, shown in tables and reports."),
    "params": Field(dict, None, "Named numbers that the expressions in the other fields may use (a spec's "
                                "``[params]`` table)."),
    "expected": Field(dict, None, "Values the answer must reproduce, checked by :func:`~ital_opt.verify` (a "
                                  "spec's ``[expected]`` table: keys of the result, ``tol``, ``method``, "
                                  "``cases``)."),
}
_SECTION = re.compile(r"^(\S[^\n]*)\n-{3,}[ \t]*$", re.M)
_LIST_MARKER = re.compile(r"^([-*+\u2022]|\d+[.)]|#\.|\.\.)(\s|$)")


def _code(word: str) -> str:
    """`word` as reStructuredText: a word that markup would take for something else (``*``, ``|``,
    a trailing or leading ``_``) is shown as code; words with backticks are the author's markup."""
    if "`" in word:
        return word
    head = len(word) - len(word.lstrip("(["))
    tail = len(word.rstrip(")],;:.!?"))
    core = word[head:tail]
    if core and ("*" in core or "|" in core or core.endswith("_") or core.startswith("_") or core.startswith("\\")):
        return f"{word[:head]}``{core}``{word[tail:]}"
    return word


def _rst(text: str) -> str:
    return " ".join(_code(word) for word in text.split())


def _sentence(text: str) -> str:
    """`text` as a sentence: capitalised (unless it starts with a symbol such as ``r`` or ``e1``;
    "a" is taken for the article) and ending with a full stop."""
    text = _rst(text)
    if not text:
        return text
    first = text.split()[0].rstrip(",;:.").replace("-", "")
    if (len(first) > 1 or first == "a") and first.isalpha() and first.islower():
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _type_text(t: Any) -> str:
    if isinstance(t, types.UnionType):
        return " or ".join(_type_text(a) for a in t.__args__)
    if t is None or t is type(None):
        return "None"
    if isinstance(t, type):
        return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    return _rst(str(t))


def _default_text(value: Any) -> str:
    if value is REQUIRED:
        return ""
    if value is None:
        return ", optional"
    text = repr(value)
    # brackets too: Sphinx splits a type line at them and would take the words between for types;
    # and '' (smart quotes would turn it into one closing quote)
    literal = (isinstance(value, str) and not value) or any(c in text for c in "*|_`\\[]{}()")
    return f", default ``{text}``" if literal else f", default {text}"


def _wrap(text: str, indent: str, width: int = 92) -> list[str]:
    """Lines of `text`, none starting with what reStructuredText would read as a list marker."""
    lines: list[str] = []
    for line in textwrap.wrap(text, width - len(indent), break_long_words=False, break_on_hyphens=False):
        if lines and _LIST_MARKER.match(line):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return [indent + line for line in lines]


def _entry(name: str, spec: Field) -> list[str]:
    out = [f"{name} : {_type_text(spec.type)}{_default_text(spec.default)}"]
    out += _wrap(_sentence(spec.doc), "    ")
    return out


def parameters_doc(cls) -> str:
    """The numpydoc "Parameters" section of a problem class, one entry per declared field.

    The fields every spec may have (``title``, ``params``, ``expected``) follow the kind's own; a
    field named by a Python keyword (``lambda``) is listed under ``**keyword_fields``, the way it
    is passed.
    """
    named, spelled_otherwise = _fields_as_passed(cls)
    lines = ["Parameters", "----------"]
    for name, spec in named.items():
        lines += _entry(name, spec)
    if spelled_otherwise:
        example = next(iter(spelled_otherwise))
        lines.append("**keyword_fields")
        lines += _wrap(f"The fields whose names are Python keywords, passed as ``**{{\"{example}\": value}}``:", "    ")
        lines.append("")
        for name, spec in spelled_otherwise.items():
            item = f"``{name}`` ({_type_text(spec.type)}{_default_text(spec.default)}): {_sentence(spec.doc)}"
            wrapped = _wrap(item, "      ")
            lines += ["    * " + wrapped[0].lstrip(), *wrapped[1:]]
    return "\n".join(lines)


def _class_doc(cls) -> str:
    """The class's own docstring (else the nearest declared one) with the Parameters section of
    its fields placed before any other section (``Examples``, ...), unless it writes its own."""
    own = cls.__dict__.get("__doc__")
    declared = inspect.cleandoc(own) if own else getattr(cls, "_declared_doc", "")
    cls._declared_doc = declared
    if not declared:
        declared = f"The problem class of kind {cls.kind!r}." if cls.kind else f"The problem class {cls.__name__}."
    if re.search(r"^Parameters\n-{3,}[ \t]*$", declared, re.M):
        return declared
    section = parameters_doc(cls)
    first = _SECTION.search(declared)
    examples = re.search(r"^>>> ", declared, re.M)
    cut = min(m.start() for m in (first, examples) if m is not None) if (first or examples) else len(declared)
    before, after = declared[:cut].rstrip(), declared[cut:].strip()
    if examples is not None and (first is None or examples.start() < first.start()):
        after = "Examples\n--------\n" + after
    return "\n\n".join(part for part in (before, section, after) if part) + "\n"


def kind_room(cls: type, room: str, name: str) -> Any:
    """The object `name` of the kind's module `room` (``formulations``, ``figures``), or None.

    The rooms are the modules beside the kind's model in its package (``ital_opt/team/figures.py``
    for :class:`ital_opt.Team`); a kind defined in a module outside a package, or whose package
    has no such room or no such name in it, has none.
    """
    package = cls.__module__.rpartition(".")[0]
    if not package or importlib.util.find_spec(f"{package}.{room}") is None:
        return None
    return getattr(importlib.import_module(f"{package}.{room}"), name, None)


class Problem:
    """Base class of the problem kinds: declared fields, methods, checks, and the solving machinery.

    A kind subclasses it, sets ``kind`` and declares ``fields``; the subclass then takes its
    fields as keyword arguments (its signature and its "Parameters" section are made from the
    declaration), and :func:`ital_opt.load` makes it from a spec file.  The kind supplies
    :meth:`methods` and :meth:`check`, and optionally the hooks :meth:`formulations`,
    :meth:`closed_form_batch`, :meth:`parametric`, :meth:`figures` and :meth:`sweep_figures`;
    the base class does the rest (:meth:`solve`, :meth:`replace`, :func:`verify`).

    Parameters
    ----------
    _source : str, default "<python>"
        Where the fields come from (a spec file's path), named by every :class:`SpecError`;
        :func:`ital_opt.load` sets it.
    _base_dir : path-like, optional
        The folder that relative paths in the fields are read from (the spec's folder; default:
        the current directory).
    **fields
        The kind's declared fields (see its "Parameters"), and ``title``, ``params`` and
        ``expected``, which every spec may have.  Unknown fields raise :class:`SpecError`.

    Attributes
    ----------
    kind : str
        The kind's name, as specs write it in ``kind``.
    fields : mapping
        The declared schema, ``{name: type}`` or ``{name: Field(type, default, doc)}``.
    compare : tuple of str
        The result values (besides the objective) that :func:`verify` compares across methods.
    sense : {"max", "min", None}
        Whether the objective is maximised or minimised; None: it is not an optimum (a count).
    verify_rtol : float or None
        The relative precision the kind's numerical methods are known to reach, when it is looser
        than ``VERIFY_RTOL``: :func:`verify` then compares the kind's methods at this tolerance
        (None: the default).  A single result may state its own ``verify_rtol`` likewise.
    source : str
        The `_source` given.
    base_dir : pathlib.Path
        The folder relative paths are read from.
    spec : dict
        The fields as given, with ``kind``: what :meth:`replace` changes.
    title : str
        The spec's title ("" if none).
    params : dict
        The named numbers of the spec's ``[params]`` table.
    expected : dict or None
        The spec's ``[expected]`` table.

    See Also
    --------
    Field : A declared field.
    Method : A way to solve.
    verify : Every applicable method, compared.
    """

    kind: ClassVar[str] = ""
    fields: ClassVar[Mapping[str, Any]] = {}
    compare: ClassVar[tuple[str, ...]] = ()
    sense: ClassVar[str | None] = "max"  # the objective is maximised; None: not an optimum (a count, ...)
    verify_rtol: ClassVar[float | None] = None  # a looser agreement tolerance the kind's methods need

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__signature__ = _signature(cls)
        cls.__doc__ = _class_doc(cls)

    def __init__(self, _source: str = "<python>", _base_dir: Path | None = None, **fields):
        self.source = _source
        self.base_dir = Path(_base_dir) if _base_dir is not None else Path.cwd()
        self.spec = {"kind": self.kind, **fields}
        reader = SpecReader(self.spec, _source)
        self.title = reader.string("title", "")
        self.expected = reader.expected()
        self.params = reader.params
        with recording_reads() as reads:
            self._read(reader)
        self.input_files = dict(reads)  # spec files this one refers to: {path: sha256}
        reader.finish()

    @classmethod
    def schema(cls) -> dict[str, Field]:
        """The declared fields, each as a :class:`Field`.

        Returns
        -------
        dict
            ``{name: Field}`` in declaration order (a bare type ``T`` becomes ``Field(T)``).
        """
        return {name: spec if isinstance(spec, Field) else Field(spec) for name, spec in cls.fields.items()}

    # -- provided by each kind ----------------------------------------------------------------
    def _read(self, r: SpecReader) -> None:
        """Read the fields; by default each declared field by its type, as an attribute."""
        for name, spec in self.schema().items():
            setattr(self, name, read_field(r, name, spec))

    def methods(self) -> list[Method]:
        """The ways to solve this problem, in order of preference (provided by each kind).

        Returns
        -------
        list of Method
            The closed form first (its ``applies`` checks its assumptions), then the
            formulations; ``"auto"`` takes the first that applies.
        """
        raise NotImplementedError(f"kind {self.kind!r} lists no methods")

    def check(self, result: Result) -> dict[str, float]:
        """The certificates of `result`, computed from its numbers alone (provided by each kind).

        By default the function ``certificates(problem, result)`` of the kind's ``checks`` module
        (see :func:`kind_room`).

        Parameters
        ----------
        result : Result
            An answer of any method.

        Returns
        -------
        dict of str to float
            ``{name: violation}`` (IC and IR violations, deviation gains, budget balance, ...);
            0 is perfect, and :attr:`Result.checks_ok` compares each with the tolerance.
        """
        certificates = kind_room(type(self), "checks", "certificates")
        if certificates is None:
            raise NotImplementedError(f"kind {self.kind!r} has no checks")
        return certificates(self, result)

    # -- optional hooks (generic services call these; the defaults mean "not offered") ---------
    def formulations(self) -> list[Formulation]:
        """The formulations behind the numerical methods (hook).

        Returns
        -------
        list of Formulation
            One object per formulation; :meth:`formulation` binds one to this problem.  By
            default the list ``FORMULATIONS`` of the kind's ``formulations`` module (none if it
            has none, see :func:`kind_room`).
        """
        return list(kind_room(type(self), "formulations", "FORMULATIONS") or [])

    def closed_form_batch(self, points: pd.DataFrame) -> pd.DataFrame | None:
        """The vectorised closed form over many parameter points, for sweeps (hook).

        The points it leaves out are solved one by one, so an answer never depends on whether
        this shortcut applied.

        Parameters
        ----------
        points : pandas.DataFrame
            One line per point (index: the point number) and one column per varied field,
            named as :meth:`replace` takes them.

        Returns
        -------
        pandas.DataFrame or None
            The tidy records (column ``_point``, then ``status``, ``objective``, ``row``, the
            row fields, scalar extras, ``method``) of the points where the closed form's
            assumptions hold; None (the default) where the kind offers no such shortcut.
        """
        return None

    def parametric(self, names: Sequence[str], method: str) -> Callable[[dict], Result] | None:
        """A solver built once and re-solved at many points where only `names` change (hook).

        Parameters
        ----------
        names : sequence of str
            The fields that change between points.
        method : str
            The method asked for.

        Returns
        -------
        callable or None
            Taking ``{field: value}`` changes and returning a :class:`Result` (or an object with
            its ``status``, ``method``, ``objective``, ``rows``, ``extras``, ``message``); None
            (the default) where the kind offers none for these fields and method.
        """
        return None

    def figures(self, result: Result | None = None) -> list[tuple[str, Any]]:
        """The kind's figures of this problem and its solution (hook).

        Parameters
        ----------
        result : Result, optional
            The solution to draw, if any.

        Returns
        -------
        list of (str, matplotlib.figure.Figure)
            Caption and figure pairs, used by ``ital-opt plot`` and ``report``: by default those
            of the function ``figures(problem, result)`` of the kind's ``figures`` module (none if
            it has none, see :func:`kind_room`).
        """
        draw = kind_room(type(self), "figures", "figures")
        return [] if draw is None else draw(self, result)

    def maximised(self, result: Result) -> float:
        """The value the methods optimise (in the direction of ``sense``), by default the objective.

        A kind whose reported objective is not what its methods optimise (a team whose shares
        maximise weighted welfare reports total welfare) returns the optimised value here, so that
        verify compares like with like when it asks whether one answer beats another.

        Parameters
        ----------
        result : Result
            An answer of any method.

        Returns
        -------
        float
            The optimised value of `result`.
        """
        return result.objective

    def sweep_figures(self, table: pd.DataFrame, varied: Sequence[str]) -> list[tuple[str, Any]]:
        """The kind's figures of a sweep of this problem, beyond the generic line plots (hook).

        Parameters
        ----------
        table : pandas.DataFrame
            The sweep's tidy table (one line per point and row).
        varied : sequence of str
            The varied fields.

        Returns
        -------
        list of (str, matplotlib.figure.Figure)
            Caption and figure pairs: by default those of the function ``sweep_figures(problem,
            table, varied)`` of the kind's ``figures`` module, `varied` given as a list (none if it
            has none, see :func:`kind_room`).
        """
        draw = kind_room(type(self), "figures", "sweep_figures")
        return [] if draw is None else draw(self, table, list(varied))

    # -- shared machinery ---------------------------------------------------------------------
    def formulation(self, name: str) -> BoundFormulation:
        """The formulation called `name`, bound to this problem: ``build()`` hands over its model.

        Parameters
        ----------
        name : str
            One of the names in :meth:`formulations`.

        Returns
        -------
        BoundFormulation
            With ``build(**options)``, ``recover(model)`` and ``solve(**options)``.

        Raises
        ------
        MethodNotApplicable
            No formulation has that name.
        """
        found = {f.name: f for f in self.formulations()}
        if name not in found:
            raise MethodNotApplicable(name, f"no formulation of that name (known: {', '.join(found) or 'none'})")
        return BoundFormulation(self, found[name])

    def replace(self, **changes) -> Problem:
        """A new problem with fields changed, validated as the original was.

        Parameters
        ----------
        **changes
            ``{field: value}``; a key may be ``NAME``, ``NAME[i]`` (one entry of a list) or
            ``params.k`` (a named number), as :func:`set_field` takes it.

        Returns
        -------
        Problem
            Of the same kind, from the same source.

        Raises
        ------
        SpecError
            A changed value is not valid for its field.
        """
        spec = self.spec
        for name, value in changes.items():
            spec = set_field(spec, name, value)
        fields = {k: v for k, v in spec.items() if k != "kind"}
        return type(self)(_source=self.source, _base_dir=self.base_dir, **fields)

    def applicable(self) -> list[tuple[Method, str | None]]:
        """Each method with None or the reason it does not apply.

        Returns
        -------
        list of (Method, str or None)
            In the order of :meth:`methods`.
        """
        return [(m, m.applies(self)) for m in self.methods()]

    def select(self, method: str = "auto") -> Method:
        """The method to run for `method`.

        ``"auto"`` is the first method whose assumptions hold (checked in order, only until one
        applies); otherwise an exact name wins, then the first applicable ``NAME-*``.

        Parameters
        ----------
        method : str
            ``"auto"``, a method's name or a family prefix (``"cvxpy"``).

        Returns
        -------
        Method
            The method chosen.

        Raises
        ------
        MethodNotApplicable
            No method has that name, or none of those named applies (the reasons are given).
        """
        methods = self.methods()
        auto = method == "auto"
        matching = methods if auto else [m for m in methods if m.name == method] or [m for m in methods if m.matches(method)]
        if not matching and not auto:
            known = ", ".join(["auto", *sorted(m.name for m in methods)])
            raise MethodNotApplicable(method, f"unknown method for kind '{self.kind}' (known: {known})")
        reasons = []
        for m in matching:
            reason = m.applies(self)
            if reason is None:
                return m
            reasons.append(f"{m.name}: {reason}" if auto else reason)
        raise MethodNotApplicable(method, f"no method applies ({'; '.join(reasons)})" if auto else "; ".join(reasons))

    def solve(self, method: str = "auto", *, solver: str | None = None, verbose: bool = False, **options) -> Result:
        """Solve with `method`; ``"auto"``: the closed form where it applies, else the best formulation.

        ``solver`` picks one of the method's solvers (``ital_opt.installed_solvers()``), ``verbose``
        lets the solver print its log (to standard error), and further keywords are the method's
        own options or the solver's.  An unknown solver or option raises :class:`OptionError`.
        Under ``"auto"``, when the chosen method fails (a status other than optimal, failed checks,
        a missing solver), the next applicable method is tried and the message says so.

        Parameters
        ----------
        method : str
            ``"auto"`` or the name of one of :meth:`methods` (a prefix such as ``"cvxpy"`` picks the
            first applicable ``cvxpy-*``).
        solver : str, optional
            One of the method's ``solvers``.
        verbose : bool
            Let the solver print its log (to standard error).
        **options
            The method's own options (``Method.options``) or the solver's.

        Returns
        -------
        Result
            With the checks computed from its numbers and ``solver`` recording what ran.

        Raises
        ------
        OptionError
            An unknown solver or option.
        MethodNotApplicable
            The method does not fit the problem (its reason says why).
        SolverUnavailable
            Under ``"auto"``: every applicable method needs a solver that is not installed.
        """
        if method != "auto":
            chosen = self.select(method)
            return self._run(chosen, chosen.call_options(self, solver, verbose, options))
        tried: list[str] = []
        first: Result | None = None
        reasons: list[str] = []
        refused: OptionError | None = None
        for m in self.methods():
            reason = m.applies(self)
            if reason is not None:
                reasons.append(f"{m.name}: {reason}")
                continue
            try:
                kw = m.call_options(self, solver, verbose, options)
            except OptionError as exc:
                refused = refused or exc
                continue
            try:
                result = self._run(m, kw)
            except (SolverUnavailable, MissingExtra) as exc:
                tried.append(f"{m.name} could not run ({exc})")
                continue
            if result.success:
                if tried:
                    result.message = _join(f"auto: {'; '.join(tried)}; {m.name} succeeded", result.message)
                return result
            why = result.status if result.status != "optimal" else "optimal but failed its checks"
            tried.append(f"{m.name} ended {why}" + (f" ({result.message})" if result.message else ""))
            first = first or result
        if first is None:
            if refused is not None:
                raise refused
            if tried:
                raise SolverUnavailable("; ".join(tried))
            raise MethodNotApplicable("auto", f"no method applies ({'; '.join(reasons)})")
        if len(tried) > 1:
            first.message = f"auto: no applicable method succeeded: {'; '.join(tried)}"
        return first

    def _run(self, chosen: Method, kw: dict) -> Result:
        from .backends import solver_notes

        start = time.perf_counter()
        with solver_notes() as (notes, records):
            result = chosen.run(self, **kw)
        result.solve_time = time.perf_counter() - start
        if records:  # what the method recorded itself (a polish, ...) is kept on top of the backend's record
            result.solver = {**records[-1], **(result.get("solver") or {})}
        if notes:  # the solver doubted a point it returned: say so (the checks judge the point)
            text = "; ".join(t + (f" ({n} times)" if n > 1 else "") for t, n in Counter(notes).items())
            result.message = _join(result.message, text)
        result.kind = self.kind
        if not result.method:
            result.method = chosen.name
        if result.status == "optimal" or len(result.rows):
            result.checks = {**self.check(result), **result.checks}
        if result.status == "optimal" and not _finite(result.objective):
            result.status = "not_solved"
            result.message = _join(result.message, f"the objective is not a finite number ({result.objective})")
        return result

    def __repr__(self) -> str:
        title = f" {self.title!r}" if self.title else ""
        return f"<{type(self).__name__}{title} from {self.source}>"


def _finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# -- verify ------------------------------------------------------------------------------------
@dataclass
class Verification:
    """Every applicable method's answer, their agreement, and the comparison with ``[expected]``.

    What :func:`verify` returns; ``ital-opt verify`` prints :meth:`to_table` and exits 0 when
    :attr:`ok`.  Each parameter is kept as the attribute of the same name, filled in by
    :func:`verify`.

    Parameters
    ----------
    problem : Problem
        The problem verified.
    results : dict of str to Result, optional
        Each applicable method's answer, by method name.
    skipped : dict of str to str, optional
        Each method that does not apply, with the reason.
    disagreements : list of str, optional
        Pairs of globally optimal answers that differ beyond the tolerances, and answers that
        beat a method claiming a global optimum.
    expected_failures : list of str, optional
        The differences from the spec's ``[expected]`` values (and its cases).
    max_difference : float, default 0.0
        The largest difference between two methods' values, relative to the tolerance scale.
    """

    problem: Problem
    results: dict[str, Result] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)
    expected_failures: list[str] = field(default_factory=list)
    max_difference: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every method succeeded, they agree, and ``[expected]`` is reproduced.

        Some method must have run; each must be optimal with its checks passing; no
        disagreement and no failure against the ``[expected]`` values may remain.
        """
        return (
            bool(self.results)
            and all(r.success for r in self.results.values())
            and not self.disagreements
            and not self.expected_failures
        )

    def to_dict(self) -> dict:
        """The verification as JSON data (``ital-opt verify --format json``).

        Returns
        -------
        dict
            ``ok``; per method its ``status``, ``method``, ``objective``, ``local``, ``checks``
            and ``solve_time``; ``skipped``, ``max_difference``, ``disagreements`` and
            ``expected_failures``.
        """
        return jsonable(
            {
                "ok": self.ok,
                "methods": {name: {key: r[key] for key in ("status", "method", "objective", "local", "checks", "solve_time")}
                            for name, r in self.results.items()},
                "skipped": self.skipped,
                "max_difference": self.max_difference,
                "disagreements": self.disagreements,
                "expected_failures": self.expected_failures,
            }
        )

    def _repr_html_(self) -> str:
        """The verification in a notebook: one line per method, then the verdict."""
        from html import escape

        head = "<tr><th>method</th><th>status</th><th>objective</th><th>time [s]</th><th>checks</th></tr>"
        body = "".join(
            f"<tr><td>{escape(str(r.method))}</td><td>{escape(r.status)}</td><td>{r.objective:.10g}</td>"
            f"<td>{r.solve_time:.4f}</td><td>{'ok' if r.checks_ok else 'FAILED'}</td></tr>"
            for r in self.results.values()
        )
        notes = "".join(f"<li>{escape(item)}</li>" for item in [*self.disagreements, *self.expected_failures])
        verdict = "OK" if self.ok else "FAILED"
        return f"<div><table>{head}{body}</table><ul>{notes}</ul><p>verify: <b>{verdict}</b></p></div>"

    def to_table(self) -> str:
        """The verification as text: one line per method, the differences, then the verdict.

        Returns
        -------
        str
            Ending with ``verify: OK`` or ``verify: FAILED``.
        """
        lines = [f"verify {self.problem.source}" + (f" ({self.problem.title})" if self.problem.title else "")]
        lines.append(f"{'method':<22} {'status':<11} {'objective':>16} {'time [s]':>9}  checks")
        for r in self.results.values():
            worst = max(r.checks.values(), default=0.0)
            mark = "ok" if r.checks_ok else "FAILED"
            local = " (local)" if r.local else ""
            lines.append(
                f"{r.method:<22} {r.status:<11} {r.objective:>16.10g} {r.solve_time:>9.4f}  "
                f"{mark} (worst {worst:.2e}){local}"
            )
        lines += [f"{name:<22} {'skipped':<11} {reason}" for name, reason in self.skipped.items()]
        lines.append(f"largest difference between methods: {self.max_difference:.3g}")
        lines += [f"DISAGREE: {item}" for item in self.disagreements]
        if self.problem.expected:
            lines += [f"EXPECTED: {item}" for item in self.expected_failures] or ["expected values: reproduced"]
        lines.append("verify: " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)


def _numeric(values) -> np.ndarray | None:
    try:
        arr = np.asarray(values.tolist() if hasattr(values, "tolist") else values, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def _compare(a, b, rtol, atol) -> float | None:
    """Largest scaled difference between two numeric values/arrays (None if not comparable)."""
    x, y = _numeric(a), _numeric(b)
    if x is None or y is None or x.shape != y.shape:
        return None
    if x.size == 0:
        return 0.0
    scale = atol + rtol * np.maximum(np.abs(x), np.abs(y))
    both_nan = np.isnan(x) & np.isnan(y)
    diff = np.where(both_nan, 0.0, np.abs(x - y) / scale)
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))


def result_value(result: Result, key: str):
    """A named value of a result: objective, a top-level extra, or a row field as a list."""
    if key in ("objective", "status"):
        return result[key]
    if key in result.extras:
        return result.extras[key]
    if key in result.rows.columns:
        return result.rows[key].tolist()
    if key in result.checks:
        return result.checks[key]
    raise KeyError(key)


def compare_expected(result: Result, expected: dict, tol: float, label: str = "") -> list[str]:
    """Differences between `result` and the [expected] entries (absolute tolerance `tol`)."""
    failures = []
    for key, want in expected.items():
        if key in ("tol", "cases", "set", "method"):
            continue
        try:
            got = result_value(result, key)
        except KeyError:
            failures.append(f"{label}{key}: not in the result")
            continue
        if isinstance(want, (str, bool)) or (isinstance(want, list) and want and all(isinstance(w, str) for w in want)):
            if got != want:  # words (a status, a regime, the stability of each row) compare exactly
                failures.append(f"{label}{key}: expected {want!r}, got {got!r}")
            continue
        x, y = _numeric(got), _numeric(want)
        if x is None or y is None or x.shape != y.shape:
            failures.append(f"{label}{key}: expected {want!r}, got {got!r}")
            continue
        err = float(np.max(np.abs(x - y))) if x.size else 0.0
        if not err <= tol:
            failures.append(f"{label}{key}: expected {want!r}, got {jsonable_short(got)} (difference {err:.3g} > {tol:g})")
    return failures


def jsonable_short(value):
    value = jsonable(value)
    if isinstance(value, list):
        return [round(v, 8) if isinstance(v, float) else v for v in value]
    return round(value, 10) if isinstance(value, float) else value


def _beaten(problem: Problem, first: str, a: Result, second: str, b: Result, rtol: float, atol: float) -> list[str]:
    """A feasible answer (checks passing) that beats one claiming a global optimum proves it wrong."""
    if problem.sense not in ("max", "min"):
        return []
    sign = 1.0 if problem.sense == "max" else -1.0
    out = []
    for (n1, r1), (n2, r2) in (((first, a), (second, b)), ((second, b), (first, a))):
        v1, v2 = problem.maximised(r1), problem.maximised(r2)
        if r1.local or not r2.checks_ok or not (_finite(v1) and _finite(v2)):
            continue
        gap = sign * (float(v2) - float(v1))
        if gap > atol + rtol * max(abs(float(v1)), abs(float(v2))):
            out.append(f"{n2} finds a feasible answer (checks pass) worth {float(v2):.10g}, better than "
                       f"{float(v1):.10g} of {n1}, which claims a global optimum: {n1} is wrong")
    return out


def verify(problem: Problem, rtol: float = VERIFY_RTOL, atol: float = VERIFY_ATOL, **options) -> Verification:
    """Solve with every applicable method; compare methods, checks and [expected] values.

    Parameters
    ----------
    problem : Problem
        The problem to verify.
    rtol, atol : float
        Relative and absolute tolerance of agreement between methods (``0 < rtol < 1``); a
        kind's or a result's own ``verify_rtol``, when looser, is used for its comparisons.
    **options
        Passed to every method's ``solve``.

    Returns
    -------
    Verification
        Each method's result, their disagreements (including a feasible answer that beats a
        method claiming a global optimum), the failures against ``[expected]``, and ``ok``.
    """
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1) or not (isinstance(atol, (int, float)) and 0 <= atol < 1):
        raise SpecError("--rtol", f"tolerances must satisfy 0 < rtol < 1 and 0 <= atol < 1, got rtol={rtol!r}, atol={atol!r}",
                        problem.source)
    report = Verification(problem)
    for m, reason in problem.applicable():
        if reason is not None:
            report.skipped[m.name] = reason
            continue
        try:
            report.results[m.name] = problem.solve(m.name, **options)
        except MethodNotApplicable as exc:
            report.skipped[m.name] = exc.reason
    optimal = [n for n, r in report.results.items() if r.status == "optimal"]
    for first, second in itertools.combinations(optimal, 2):
        a, b = report.results[first], report.results[second]
        # no tighter than what the kind or either result states it reaches
        pair_rtol = max(rtol, problem.verify_rtol or 0.0, a.get("verify_rtol") or 0.0, b.get("verify_rtol") or 0.0)
        # a local optimum is compared and reported, but its disagreement is not a failure
        for key in ("objective", *problem.compare):
            try:
                va, vb = result_value(a, key), result_value(b, key)
            except KeyError:
                continue
            d = _compare(va, vb, pair_rtol, atol)
            if d is None:
                continue
            report.max_difference = max(report.max_difference, d * pair_rtol)
            if d > 1.0 and not (a.local or b.local):
                report.disagreements.append(f"{first} vs {second}: {key} differs")
        # an answer that passes its checks may be infeasible by up to CHECK_TOL, which buys payoff
        # at the multipliers' rate: only a gain beyond that proves a global claim wrong
        report.disagreements += _beaten(problem, first, a, second, b, max(pair_rtol, BEAT_RTOL), max(atol, BEAT_ATOL))
    if problem.expected:
        expected = dict(problem.expected)
        tol = float(expected.get("tol", EXPECTED_TOL))
        base = next(iter(report.results.values()), None)
        wanted = expected.get("method")
        if wanted:
            base = problem.solve(wanted, **options)
        if base is not None:
            report.expected_failures += compare_expected(base, expected, tol)
        for i, case in enumerate(expected.get("cases", [])):
            changes = case.get("set", {})
            label = f"case {i} {changes}: "
            try:
                variant = problem.replace(**changes)
                res = variant.solve(case.get("method", wanted or "auto"), **options)
            except (SpecError, MethodNotApplicable) as exc:
                report.expected_failures.append(f"{label}{exc}")
                continue
            if not res.success:
                report.expected_failures.append(f"{label}status {res.status}, checks {res.checks}")
            report.expected_failures += compare_expected(res, case, float(case.get("tol", tol)), label)
    return report
