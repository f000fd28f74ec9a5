"""The rasteriser's inputs and entry points: the camera, scene validation, backend selection,
lazy backend imports, batches and the numba cache fallback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.services.renderer.raster import cpu_kernels as raster_cpu
from dyad.services.renderer.raster import cuda_available, render, render_batch, to_uint8
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.gsplat_cuda import render_gsplat
from dyad.services.renderer.raster.scene import GaussianScene

from .raster_helpers import front_camera, one_gaussian, random_scene

# ---------------------------------------------------------------- camera


def test_look_at_projects_the_target_to_the_image_centre():
    cam = Camera.look_at((1.0, 2.0, 3.0), (0.2, -0.1, 0.4), fov_y_deg=35.0, width=80, height=60)
    uv, z = cam.project_points(np.array([[0.2, -0.1, 0.4]]))
    np.testing.assert_allclose(uv[0], [40.0, 30.0], atol=1e-9)
    assert z[0] == pytest.approx(np.linalg.norm([0.8, 2.1, 2.6]))
    np.testing.assert_allclose(cam.position, [1.0, 2.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-12)


def test_look_at_uses_the_opencv_axes():
    cam = Camera.look_at((0.0, 0.0, 5.0), (0.0, 0.0, 0.0), width=64, height=64)
    uv, _ = cam.project_points(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    assert uv[0, 0] > 32.0  # world +x (to the viewer's right) → right in the image
    assert uv[1, 1] < 32.0  # world up → up in the image (smaller row)
    f = 0.5 * 64 / np.tan(np.deg2rad(30.0) / 2)
    np.testing.assert_allclose(np.diag(cam.K), [f, f, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"eye": (0, 0, 0), "target": (0, 0, 0)}, "target"),
        ({"eye": (0, 5, 0), "target": (0, 0, 0)}, "up"),
        ({"eye": (0, 0, 1), "target": (0, 0, 0), "fov_y_deg": 0.0}, "fov_y_deg"),
        ({"eye": (0, 0, 1), "target": (0, 0, 0), "width": 0}, "camera.width"),
        ({"eye": (0, float("nan"), 1), "target": (0, 0, 0)}, "eye"),
    ],
)
def test_look_at_rejects_bad_input(kwargs, field):
    with pytest.raises(InvalidInput) as err:
        Camera.look_at(**kwargs)
    assert err.value.field == field


def test_camera_validates_its_matrices():
    good = Camera.look_at((0, 0, 1), (0, 0, 0), width=8, height=8)
    with pytest.raises(InvalidInput, match="viewmat"):
        Camera(viewmat=np.eye(3), K=good.K, width=8, height=8)
    with pytest.raises(InvalidInput, match="K"):
        Camera(viewmat=good.viewmat, K=np.full((3, 3), np.inf), width=8, height=8)
    with pytest.raises(InvalidInput, match="height"):
        Camera(viewmat=good.viewmat, K=good.K, width=8, height=-1)


# ---------------------------------------------------------------- scene and API


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("means", np.zeros((2, 2))),
        ("quats", np.zeros((2, 4))),
        ("scales", -np.ones((2, 3))),
        ("opacities", np.full(2, 1.5)),
        ("colors", np.full((2, 3), np.nan)),
    ],
)
def test_scene_validation_names_the_field(field, value):
    good = {
        "means": np.zeros((2, 3)),
        "quats": np.tile([1.0, 0, 0, 0], (2, 1)),
        "scales": np.ones((2, 3)),
        "opacities": np.ones(2),
        "colors": np.ones((2, 3)),
    }
    GaussianScene(**good).validate()
    with pytest.raises(InvalidInput) as err:
        render(GaussianScene(**{**good, field: value}), front_camera(8), backend="cpu")
    assert err.value.field == field


def test_concat_and_empty():
    a, b = random_scene(3, seed=1), random_scene(4, seed=2)
    ab = GaussianScene.concat([a, b]).validate()
    assert ab.n == 7 and ab.means.dtype == np.float32
    np.testing.assert_array_equal(ab.colors[3:], b.colors)
    assert GaussianScene.concat([]).n == 0
    assert GaussianScene.empty().validate().means.shape == (0, 3)


def test_backend_selection():
    cam, scene = front_camera(8), GaussianScene.empty()
    with pytest.raises(InvalidInput) as err:
        render(scene, cam, backend="opengl")
    assert err.value.field == "backend"
    with pytest.raises(InvalidInput) as err:
        render(scene, cam, background=(2.0, 0.0, 0.0))
    assert err.value.field == "background"
    if not cuda_available():
        with pytest.raises(FailedPrecondition, match="CUDA"):
            render(scene, cam, backend="gsplat")
        assert render(scene, cam).backend == "cpu"


def test_cpu_rendering_imports_neither_torch_nor_gsplat():
    code = (
        "import sys, numpy as np\n"
        "from dyad.services.renderer.raster import render\n"
        "from dyad.services.renderer.raster.scene import GaussianScene\n"
        "from dyad.services.renderer.raster.camera import Camera\n"
        "cam = Camera.look_at((0, 0, 2), (0, 0, 0), width=8, height=8)\n"
        "render(GaussianScene.empty(), cam, backend='cpu')\n"
        "import dyad.services.renderer.raster.gsplat_cuda\n"
        "print(sorted(m for m in ('torch', 'gsplat') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_gsplat_path_refuses_without_cuda():
    if cuda_available():
        pytest.skip("CUDA present")
    with pytest.raises(FailedPrecondition):
        render_gsplat(one_gaussian(), front_camera(8), np.ones(3))


def test_render_batch_and_to_uint8():
    scenes = [one_gaussian(mean=(x, 0.0, 0.0), scale=0.2) for x in (-0.5, 0.5)]
    cam = Camera.look_at((0.0, 0.0, 3.0), (0.0, 0.0, 0.0), width=32, height=32)
    frames = render_batch(scenes, cam, backend="cpu", background=(0.0, 0.0, 0.0))
    assert len(frames) == 2
    assert frames[0].rgb[16, :16, 0].sum() > frames[0].rgb[16, 16:, 0].sum()  # left one left
    np.testing.assert_allclose(frames[0].rgb, frames[1].rgb[:, ::-1], atol=1e-5)
    with pytest.raises(InvalidInput):
        render_batch(scenes, [cam], backend="cpu")
    img = to_uint8(np.array([[[0.0, 0.5, 1.0], [1.2, -0.1, 0.002]]]))
    np.testing.assert_array_equal(img, [[[0, 128, 255], [255, 0, 1]]])
    assert img.dtype == np.uint8


def test_numba_cache_falls_back_to_memory_when_no_cache_dir(monkeypatch):
    calls = []
    real_njit = raster_cpu.numba.njit

    def njit(**options):
        calls.append(options["cache"])
        if options["cache"]:
            raise RuntimeError("cannot cache function 'f': no locator available")
        return real_njit(**options)

    monkeypatch.setattr(raster_cpu.numba, "njit", njit)

    @raster_cpu._jit()
    def double(x):
        return 2 * x

    assert double(21) == 42 and calls == [True, False]
