"""The image's Dockerfile (``deploy/docker/Dockerfile``) as a model the image tests read.

dockerfile-parse reads it; ``dockerfile()`` splits it into its stages (each with its resolved
base image and its instructions) and the global build args, with ``${VAR}`` substituted as
Docker does, so tests/test_image.py and tests/test_image_build.py can check stages, users,
environment, packages and what the build copies without a container engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
SERVE_CONFIG = "deploy/ray/serve_config.yaml"


@dataclass
class Stage:
    name: str
    image: str
    instructions: list[dict[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [i["value"] for i in self.instructions if i["instruction"] == instruction]

    def args(self) -> dict[str, str]:
        return _arg_defaults(self.values("ARG"))

    def run_containing(self, text: str) -> str:
        runs = [v for v in self.values("RUN") if text in v]
        assert runs, f"stage {self.name}: no RUN contains {text!r}"
        return runs[0]


def _arg_defaults(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, _, default = value.partition("=")
        out[name.strip()] = default.strip().strip('"')
    return out


def substitute(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], ""), text)


@dataclass
class Dockerfile:
    parser: DockerfileParser
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


@cache
def dockerfile() -> Dockerfile:
    parser = DockerfileParser(path=str(DOCKERFILE))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            words = [w for w in ins["value"].split() if not w.startswith("--")]
            image = substitute(words[0], global_args)
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else str(len(stages))
            stages.append(Stage(name, image))
        elif stages:
            stages[-1].instructions.append(ins)
        elif ins["instruction"] == "ARG":
            global_args.update(_arg_defaults([ins["value"]]))
    assert stages, f"{DOCKERFILE}: no FROM"
    return Dockerfile(parser, global_args, stages)
