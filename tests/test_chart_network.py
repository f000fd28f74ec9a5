"""The chart's NetworkPolicies: who reaches which port, checked on the renders (prod; dev with
the policies on, in-chart Redis and MinIO) and shown to notice a policy that opens or closes
too much (tests/chart_rules.py: ``check_network_policies``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.chart_network_rules import check_network_policies
from tests.chart_render import Rendered, render_with, rendered


def _renders() -> dict[str, Rendered]:
    return {
        "prod": rendered("prod"),
        "dev+policies": render_with(
            "dev",
            **{
                "networkPolicy.enabled": True,
                "workers.keda.enabled": True,
                "fitWorkers.enabled": True,
            },
        ),
    }


@pytest.fixture(scope="module")
def renders() -> dict[str, Rendered]:
    return _renders()


@pytest.mark.parametrize("name", ["prod", "dev+policies"])
def test_network_policies_admit_exactly_the_callers(
    renders: dict[str, Rendered], name: str
) -> None:
    assert check_network_policies(renders[name]) == []


def test_prod_turns_them_on_and_the_defaults_do_not() -> None:
    assert rendered("prod").values["networkPolicy"]["enabled"] is True
    assert rendered("defaults").of_kind("NetworkPolicy") == []
    assert check_network_policies(rendered("defaults")) == []


def test_serve_from_adds_peers_to_the_serve_ports() -> None:
    peer = {"podSelector": {"matchLabels": {"app": "my-ingress"}}}
    r = render_with("prod", **{"networkPolicy.serveFrom": [peer]})
    ray = r.one("NetworkPolicy", "dyad-ray")
    serve_rules = [x for x in ray["spec"]["ingress"] if peer in (x.get("from") or [])]
    assert len(serve_rules) == 1 and {p["port"] for p in serve_rules[0]["ports"]} == {8000, 9000}
    assert check_network_policies(r) == []


def _broken(r: Rendered, policy: str, edit: Any) -> Rendered:
    objects = copy.deepcopy(r.objects)
    for o in objects:
        if o.get("kind") == "NetworkPolicy" and o["metadata"]["name"] == policy:
            edit(o)
    return Rendered(r.name, r.values, objects, r.notes)


def _open_serve_to_gateway(o: dict[str, Any]) -> None:
    o["spec"]["ingress"][1]["from"].append(
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "gateway"}}}
    )


def _serve_to_fit_workers(o: dict[str, Any]) -> None:
    # The fit workers call no stage: the Serve ports stay closed to them.
    o["spec"]["ingress"][1]["from"].append(
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "fit-worker"}}}
    )


def _drop(o: dict[str, Any]) -> None:
    o["kind"] = "Dropped"


def _typo_peer(o: dict[str, Any]) -> None:
    o["spec"]["ingress"][1]["from"][0]["podSelector"]["matchLabels"][
        "app.kubernetes.io/component"
    ] = "wroker"


def _open_redis(o: dict[str, Any]) -> None:
    o["spec"]["ingress"][0].pop("from")


@pytest.mark.parametrize(
    ("policy", "edit", "needle"),
    [
        ("dyad-ray", _open_serve_to_gateway, "pod gateway reaches RayService/dyad"),
        ("dyad-ray", _typo_peer, "selects no pod"),
        ("dyad-worker", _drop, "monitoring cannot reach Deployment/dyad-worker"),
        ("dyad-fit-worker", _drop, "monitoring cannot reach Deployment/dyad-fit-worker"),
        ("dyad-ray", _serve_to_fit_workers, "pod fit-worker reaches RayService/dyad"),
        ("dyad-redis", _open_redis, "stranger reaches StatefulSet/dyad-redis"),
        ("dyad-default-deny", _drop, "Job/dyad-minio-bucket: no NetworkPolicy selects it"),
    ],
)
def test_the_check_notices_broken_policies(
    renders: dict[str, Rendered], policy: str, edit: Any, needle: str
) -> None:
    problems = check_network_policies(_broken(renders["dev+policies"], policy, edit))
    assert any(needle in p for p in problems), problems
