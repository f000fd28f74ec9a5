"""The alert rules (``deploy/prometheus/rules.yaml``): promtool reads them, and every alert has
unit tests (``deploy/prometheus/tests/*.yaml``) in which it fires on a bad series and stays
quiet on a healthy one — run by promtool itself."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_server import RULE_TESTS, RULES, require_binary

REQUIRED_ANNOTATIONS = {"summary", "description", "runbook_url"}
SEVERITIES = {"critical", "warning", "info"}


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}, "a plain rule file: one `groups:` document"
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_checks_the_rule_file() -> None:
    promtool = require_binary("promtool")
    out = subprocess.run(
        [str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in out.stdout


def test_promtool_unit_tests_pass() -> None:
    promtool = require_binary("promtool")
    assert RULE_TESTS, "no rule tests in deploy/prometheus/tests/"
    out = subprocess.run(
        [str(promtool), "test", "rules", *map(str, RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_each_alert_fires_in_a_test_and_stays_quiet_in_another() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        doc = yaml.safe_load(path.read_text())
        assert doc["rule_files"] == ["../rules.yaml"], path
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - fires == set(), "alerts without a test in which they fire"
    assert names - quiet == set(), "alerts without a test in which they stay quiet"


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alerts_carry_severity_annotations_and_a_runbook(alert: dict[str, Any]) -> None:
    name = alert["alert"]
    assert name.startswith("Dyad") and name.isalnum()
    assert alert["labels"]["severity"] in SEVERITIES
    assert set(alert["annotations"]) >= REQUIRED_ANNOTATIONS
    # The runbook is a section of deploy/README.md whose heading is the alert's name.
    assert alert["annotations"]["runbook_url"] == f"deploy/README.md#{name.lower()}"
    runbook = (Path(__file__).resolve().parents[1] / "deploy" / "README.md").read_text()
    assert f"\n### {name}\n" in runbook, f"deploy/README.md has no runbook entry for {name}"
    assert alert.get("for"), "every alert waits before firing"
