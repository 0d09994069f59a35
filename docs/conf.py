"""Sphinx configuration of the ital_opt documentation site.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (with the ``[docs]``
extra installed).  Pages are MyST Markdown; the tutorials are MyST notebooks executed during the
build (their figures are made then); the API reference is generated from the docstrings of
``ital_opt.__all__``.  Mathematics is written in Unicode, so that the site needs nothing from
the network.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
# the notebooks run in the repository root, where the bundled specs are formulations/*.toml
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

import ital_opt  # noqa: E402

project = "ital_opt"
author = "The ital_opt developers"
copyright = "The ital_opt developers, MIT licence"
release = version = ital_opt.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
]
intersphinx_mapping: dict = {}  # offline: no inventories are fetched

source_suffix = {".md": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# notebooks: executed on every build (each moves to the repository root in a hidden first cell),
# failing the build on an error
nb_execution_mode = "force"
nb_execution_in_temp = False
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_execution_show_tb = True
nb_merge_streams = True
nb_kernel_rgx_aliases = {".*": "python3"}


autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autosummary_generate = True
napoleon_numpy_docstring = True
napoleon_google_docstring = False

html_theme = "furo"
html_title = f"ital_opt {release}"
html_static_path: list[str] = []
html_show_sourcelink = False

suppress_warnings = ["myst.header"]


def _skip_data_attributes(app, what, name, obj, skip, options):
    """Leave a class's data attributes out of autodoc's member list: each class documents them in
    its "Attributes" section (napoleon), and autodoc would otherwise list its annotated class
    attributes (``kind: ClassVar[str]``) a second time."""
    if what == "class" and not (callable(obj) or isinstance(obj, (property, classmethod, staticmethod))):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_data_attributes)
