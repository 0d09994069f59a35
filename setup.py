"""Packaging that pyproject.toml cannot say alone: the bundled specs.

The specs live in ``formulations/`` at the top of the repository, where users and developers run
``ital-opt solve formulations/...``; the wheel ships the same files as the package data
``ital_opt/formulations`` (read through importlib.resources by ``ital-opt examples``).
Everything else is declared in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["ital_opt", "ital_opt.*"]), "ital_opt.formulations"],
    package_dir={"ital_opt.formulations": "formulations"},
    package_data={"ital_opt": ["py.typed"], "ital_opt.formulations": ["*.toml", "*.csv", "*.json"]},
)
