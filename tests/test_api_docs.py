"""The API reference's docstrings: every public name of ``ital_opt.__all__`` is documented in
numpydoc form (checked with ``numpydoc.validate``), and each problem class's "Parameters" section,
generated from its declared fields, names every field in valid reStructuredText."""

from __future__ import annotations

import dataclasses
import inspect
import pydoc
import typing
from importlib.metadata import entry_points

import pytest
from numpydoc.docscrape import NumpyDocString
from numpydoc.validate import validate

import ital_opt
import ital_opt.problem
from ital_opt.spec import REQUIRED

# numpydoc checks that are not the project's style: a "See Also" and "Examples" on every object,
# an extended summary, and summaries that start with an infinitive ("Return ...") rather than
# saying what the object is ("The ...")
NOT_REQUIRED = {"SA01", "EX01", "ES01", "SS05"}


def _problem_class(obj) -> bool:
    return inspect.isclass(obj) and issubclass(obj, ital_opt.Problem) and obj is not ital_opt.Problem


def _public() -> list[str]:
    """``ital_opt.__all__`` with the problem classes of the installed kinds (the entry points), not
    those that other tests register at run time."""
    installed = {ep.value.rsplit(":", 1)[-1] for ep in entry_points(group="ital_opt.kinds")}
    return [name for name in ital_opt.__all__ if not _problem_class(getattr(ital_opt, name)) or name in installed]


# classes that public functions return, documented in the API reference under their module
RETURNED = {"problem.BoundFormulation": ital_opt.problem.BoundFormulation}


def _public_names() -> list[str]:
    """Every public function and class, and the public methods and properties of the classes
    (a problem class's methods are the protocol's, documented on Problem)."""
    names = []
    objects = {**{name: getattr(ital_opt, name) for name in _public()}, **RETURNED}
    for name, obj in objects.items():
        names.append(f"ital_opt.{name}")
        if not inspect.isclass(obj) or _problem_class(obj):
            continue
        data = {f.name for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else set()
        for member, value in vars(obj).items():
            if member.startswith("_") or member in data:
                continue
            if inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod)):
                names.append(f"ital_opt.{name}.{member}")
    return names


@pytest.mark.parametrize("name", _public_names())
def test_public_name_passes_numpydoc_validation(name):
    errors = [f"{code}: {message}" for code, message in validate(name)["errors"] if code not in NOT_REQUIRED]
    assert not errors, f"{name}:\n" + "\n".join(errors)


def _data_attributes(cls) -> set[str]:
    """The public data a class holds: dataclass fields, annotated class attributes, and for
    Result (a dict) the fields every result has."""
    names = set()
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    for klass in cls.__mro__:
        if klass.__module__.startswith("ital_opt"):
            names |= {n for n in vars(klass).get("__annotations__", {}) if not n.startswith("_")}
    if cls is ital_opt.Result:
        names |= set(ital_opt.Result())
    return names


@pytest.mark.parametrize("name", [n for n in _public() if inspect.isclass(getattr(ital_opt, n))
                                  and not _problem_class(getattr(ital_opt, n))])
def test_public_class_documents_its_parameters_and_attributes(name):
    cls = getattr(ital_opt, name)
    doc = NumpyDocString(inspect.getdoc(cls) or "")
    parameters = {p.name.lstrip("*") for p in doc["Parameters"]}
    attributes = {p.name for p in doc["Attributes"]}
    try:
        takes = [p for p in inspect.signature(cls).parameters.values()]
    except ValueError:  # a builtin exception's constructor
        takes = []
    if takes:
        assert parameters, f"{name} takes {[p.name for p in takes]} but has no Parameters section"
    missing = sorted(_data_attributes(cls) - parameters - attributes)
    assert not missing, f"{name}: document {missing} under Parameters or Attributes"
    for entry in [*doc["Parameters"], *doc["Attributes"]]:
        assert entry.desc, f"{name}: {entry.name} has no description"


def _kinds() -> list[str]:
    return [n for n in _public() if _problem_class(getattr(ital_opt, n))]


def test_every_kind_is_checked():
    assert {"Screening", "Admission", "Team", "Coalition", "MoralHazard", "Policy", "Evolution"} <= set(_kinds())


def _described(cls) -> dict[str, tuple[str, str]]:
    """{field: (type line, description)} from the class's Parameters section, including the
    fields listed under ``**keyword_fields``."""
    out = {}
    for entry in NumpyDocString(inspect.getdoc(cls))["Parameters"]:
        text = " ".join(entry.desc)
        out[entry.name] = (entry.type, text)
        if entry.name == "**keyword_fields":
            for name in cls.schema():
                if f"``{name}`` (" in text:
                    out[name] = ("", text)
    return out


@pytest.mark.parametrize("name", _kinds())
def test_generated_parameters_name_every_declared_field(name):
    cls = getattr(ital_opt, name)
    described = _described(cls)
    schema = cls.schema()
    missing = sorted(set(schema) - set(described))
    assert not missing, f"{name}: fields missing from the Parameters section: {missing}"
    assert {"title", "params", "expected"} <= set(described)
    for field, spec in schema.items():
        type_line, text = described[field]
        assert spec.doc, f"{name}.{field} has no doc"
        assert len(text.split()) >= 3, f"{name}.{field}: the doc {spec.doc!r} is too terse to help"
        if type_line:
            assert ("default" in type_line) == (spec.default not in (REQUIRED, None)), (field, type_line)
            assert type_line.endswith("optional") == (spec.default is None), (field, type_line)
            assert "object" not in type_line, f"{name}.{field}: say what it takes (a union such as float | list)"
    # help() shows the same section
    assert "Parameters\n |  ----------" in pydoc.render_doc(cls, renderer=pydoc.plaintext)


class _Tricky(ital_opt.Problem):
    """A kind whose field docs hold what reStructuredText would misread.

    Examples
    --------
    >>> _Tricky(a=1.0).a
    1.0
    """

    kind = "tricky_docs_test"
    fields = {
        "a": float,
        "cost": ital_opt.Field(str, "c*e**2/2", "effort cost in e and c, as in c*e**2/2 or |e|; see gamma_D and link_"),
        "shares": ital_opt.Field(float | list, None, "one per member, summing to 1 - the budget-balanced case; "
                                 "longer text that wraps - so that a line could start with a dash - or * with a star, "
                                 "or 1. with a number"),
        "lambda": ital_opt.Field(float, 0.0, "shadow cost of public funds, λ"),
    }


class _Quieter(_Tricky):
    fields = {**_Tricky.fields, "b": ital_opt.Field(int, 3, "a count")}


def _render(docstring: str) -> list[str]:
    """The problems docutils reports in `docstring`, turned into reStructuredText by napoleon."""
    docutils_core = pytest.importorskip("docutils.core")
    roles = pytest.importorskip("docutils.parsers.rst.roles")
    napoleon = pytest.importorskip("sphinx.ext.napoleon")
    for role in ("func", "class", "meth", "attr", "mod"):  # Sphinx's roles, unknown to plain docutils
        roles.register_local_role(role, lambda *args, **kwargs: ([], []))
    rst = str(napoleon.NumpyDocstring(docstring, napoleon.Config(napoleon_use_param=True)))
    stream = __import__("io").StringIO()
    docutils_core.publish_doctree(rst, settings_overrides={"warning_stream": stream, "report_level": 2,
                                                           "halt_level": 5})
    return stream.getvalue().splitlines()


def test_generated_section_is_valid_restructuredtext_and_numpydoc():
    doc = inspect.getdoc(_Tricky)
    assert doc.index("Parameters\n----------") < doc.index("Examples\n--------")
    assert "cost : str, default ``'c*e**2/2'``" in doc
    assert "``c*e**2/2``" in doc and "``|e|``;" in doc and "``link_``." in doc and "gamma_D" in doc
    assert "shares : float or list, optional" in doc
    assert all(not line.lstrip().startswith(("- ", "* ", "1. ")) for line in doc.splitlines()
               if "``lambda``" not in line)
    assert "``lambda`` (float, default 0.0): Shadow cost of public funds, λ." in doc
    assert inspect.signature(_Tricky).parameters["shares"].annotation == float | list
    assert _render(doc) == []
    for cls in (_Tricky, _Quieter):
        described = _described(cls)
        assert set(cls.schema()) <= set(described)
    # a subclass without a docstring keeps its parent's summary, with its own fields
    assert inspect.getdoc(_Quieter).startswith("A kind whose field docs")
    assert "b : int, default 3\n    A count." in inspect.getdoc(_Quieter)


@pytest.mark.parametrize("name", _kinds())
def test_problem_class_docstring_renders_without_warnings(name):
    assert _render(inspect.getdoc(getattr(ital_opt, name))) == []


def test_union_field_is_read_raw():
    """A union type keeps the raw value, as ``object`` does, for the kind to validate."""
    p = _Tricky(a=2, shares=[0.5, 0.5])
    assert p.shares == [0.5, 0.5] and p.a == 2.0 and typing.get_args(_Tricky.schema()["shares"].type) == (float, list)
