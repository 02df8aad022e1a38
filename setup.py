"""Packages of the wheel: the code, plus the repository's data/ and models/ folders packed
as fieldtool/data and fieldtool/models (see fieldtool/resources.py). Everything else is in
pyproject.toml; setuptools cannot list mapped folders beside a package search there."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["fieldtool", "fieldtool.*"]), "fieldtool.data",
                "fieldtool.models"])  # fmt: skip
