"""Ray Serve deployment of the refiner service, behind Serve's gRPC proxy.

Delegates to ``RefinerServicer`` (same validation and conversions as the standalone server),
with one difference: the denoising windows of a request (SFBG gaps, RFBG segments of both
speakers) go one by one into ``_windows``, a ``@serve.batch`` method, so windows of concurrent
requests on a replica share denoiser passes (batched across segments and requests). A batch is
split by (model id, sampling options); each part runs ``sampler.run_windows`` in a thread.

Serve config: ``grpc_servicer_functions`` must include
``dyad.v1.refiner_service_pb2_grpc.add_RefinerServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from grpc_health.v1 import health_pb2
from ray import serve
from ray.serve import Application

from dyad.rpc.serve import mapped, replica_store
from dyad.services.refiner.core import RefinerCore, Runner
from dyad.services.refiner.sampler import SampleOptions, WindowJob, WindowResult, run_windows
from dyad.services.refiner.servicer import RefinerServicer
from dyad.services.refiner.settings import RefinerSettings

Item = tuple[str, SampleOptions, WindowJob]
log = logging.getLogger(__name__)


@serve.deployment(name="Refiner")
class RefinerDeployment:
    def __init__(self) -> None:
        store = replica_store()
        settings = RefinerSettings.from_env()
        self.core = RefinerCore(store, settings)
        self.core.warm_up()
        batched = cast(Any, self._windows)  # @serve.batch adds the setters
        batched.set_max_batch_size(settings.batch_max_size)
        batched.set_batch_wait_timeout_s(settings.batch_wait_timeout_s)
        self.servicer = RefinerServicer(self.core, runner_for=self._runner)

    @serve.multiplexed(max_num_models_per_replica=3)
    async def load_checkpoint(self, model_id: str) -> Any:
        """Per-request checkpoints: Serve routes a model id to replicas that hold it."""
        return await asyncio.to_thread(self.core.model, model_id)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.01)
    async def _windows(self, items: list[Item]) -> list[WindowResult]:
        groups: dict[tuple[str, SampleOptions], list[int]] = {}
        for k, (model_id, opts, _job) in enumerate(items):
            groups.setdefault((model_id, opts), []).append(k)
        out: list[WindowResult | None] = [None] * len(items)
        log.debug("refiner batch: %d windows in %d groups", len(items), len(groups))

        def work() -> None:
            for (model_id, opts), idx in groups.items():
                jobs = [items[k][2] for k in idx]
                for k, r in zip(
                    idx, run_windows(self.core.model(model_id), jobs, opts), strict=True
                ):
                    out[k] = r

        await asyncio.to_thread(work)
        return cast(list[WindowResult], out)

    def _runner(self, model_id: str, loop: asyncio.AbstractEventLoop) -> Runner:
        """A runner for the core (called from its worker thread) that queues each window."""

        def run(jobs: list[WindowJob], opts: SampleOptions) -> list[WindowResult]:
            async def gather() -> list[WindowResult]:
                return list(await asyncio.gather(*(self._windows((model_id, opts, j))
                                                   for j in jobs)))  # fmt: skip

            return asyncio.run_coroutine_threadsafe(gather(), loop).result()

        return run

    @mapped
    async def RefineMotion(self, request: Any, grpc_context: Any = None) -> Any:
        if request.model_id:
            await self.load_checkpoint(request.model_id)
        return await self.servicer.RefineMotion(request, grpc_context)

    async def Check(self, request: Any, grpc_context: Any = None) -> Any:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def build_app(args: dict[str, Any] | None = None) -> Application:
    s = RefinerSettings.from_env()
    deployment = cast(Any, RefinerDeployment)  # @serve.deployment made it a Deployment
    return deployment.options(
        ray_actor_options={"num_cpus": s.num_cpus, "num_gpus": s.num_gpus},
        max_ongoing_requests=s.max_ongoing_requests,
    ).bind()
