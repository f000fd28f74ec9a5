"""Package discovery for the two source roots (pyproject.toml holds everything else).

``libs/dyad`` imports as ``dyad`` and ``services/<name>`` as ``dyad.services.<name>``
(DESIGN.md §3); setuptools' automatic discovery cannot express that mapping, so it is
computed here.
"""

from setuptools import find_packages, setup

packages = ["dyad", *(f"dyad.{p}" for p in find_packages("libs/dyad"))]
packages += ["dyad.services", *(f"dyad.services.{p}" for p in find_packages("services"))]

setup(packages=packages, package_dir={"dyad": "libs/dyad", "dyad.services": "services"})
