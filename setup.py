"""The package layout, which pyproject.toml alone cannot say: the shipped process and decision
files stay at the repository's top level (``processes/``, where analysts open them in Modeler)
and go into the wheel as the package ``retailflow.processes``, so an installed retailflow finds
them (``retailflow.retail.shipped_processes()``). Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages("src", include=["retailflow", "retailflow.*"]),
              "retailflow.processes"],
    package_dir={"": "src", "retailflow.processes": "processes"},
)
