"""The architecture contracts hold, and each one fails when its rule is broken."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.architecture import REPO, joined_tree, lint_imports

#: contract id → (module to add to the tree, its source, what the report then names): one
#: violation of that contract.
VIOLATIONS = {
    "library-below-services": ("dyad/_probe.py", "import dyad.services.motion.core\n", "_probe"),
    "services-independent": (
        "dyad/services/refiner/_probe.py",
        "import dyad.services.motion.core\n",
        "_probe",
    ),
    "services-below-roots": (
        "dyad/services/motion/_probe.py",
        "import dyad.services.worker.worker\n",
        "_probe",
    ),
    "cores-free-of-transport": ("dyad/services/motion/_probe.py", "import grpc\n", "_probe"),
    # A cycle is reported by the package edge that would break it.
    "no-package-cycles": ("dyad/domain/_probe.py", "import dyad.protoconv\n", ".domain"),
}


def test_every_contract_has_a_violation_test() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    ids = {c["id"] for c in config["tool"]["importlinter"]["contracts"]}
    assert ids == set(VIOLATIONS)


def test_the_contracts_hold(tmp_path: Path) -> None:
    result = lint_imports(joined_tree(tmp_path).parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and " KEPT" in result.stdout


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_a_violation_breaks_its_contract(contract: str, tmp_path: Path) -> None:
    rel, source, named = VIOLATIONS[contract]
    root = joined_tree(tmp_path).parent
    (root / rel).write_text(source)
    result = lint_imports(root, contract)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and named in result.stdout, result.stdout
