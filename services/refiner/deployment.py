"""Ray Serve deployment of the refiner service, behind Serve's gRPC proxy (wiring only).

One difference from the standalone server: the denoising windows of a request (SFBG gaps,
RFBG segments of both speakers) go one by one into ``_windows``, a ``@serve.batch`` method, so
windows of concurrent requests on a replica share denoiser passes. A batch is split by (model
id, sampling options) and each part runs ``sampler.run_windows`` in a thread
(``dyad.rpc.serve.run_batched``). Serve config: ``grpc_servicer_functions`` must include
``dyad.v1.refiner_service_pb2_grpc.add_RefinerServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

from dyad.rpc.serve import ServedService, app_builder, grpc_methods, raise_if_failed, run_batched
from dyad.services.refiner.core import RefinerCore, Runner
from dyad.services.refiner.sampler import SampleOptions, WindowJob, WindowResult, run_windows
from dyad.services.refiner.servicer import RefinerServicer
from dyad.services.refiner.settings import RefinerSettings

#: One queued window: (model id, sampling options, the window).
Item = tuple[str, SampleOptions, WindowJob]


@serve.deployment(name="Refiner")
@grpc_methods(unary=("RefineMotion",))
class RefinerDeployment(ServedService):
    batched_methods = ("_windows",)

    def build(self, store: Any) -> RefinerServicer:
        self.core = RefinerCore(store, RefinerSettings.from_env())
        self.core.warm_up()
        return RefinerServicer(self.core, runner_for=self._runner)

    @serve.multiplexed(max_num_models_per_replica=3)
    async def load_checkpoint(self, model_id: str) -> Any:
        return await asyncio.to_thread(self.core.model, model_id)

    async def before_call(self, method: str, request: Any) -> None:
        if request.model_id:
            await self.load_checkpoint(request.model_id)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.01)
    async def _windows(self, items: list[Item]) -> list[WindowResult | Exception]:
        def run(key: tuple[str, SampleOptions], group: list[Item]) -> list[WindowResult]:
            model_id, opts = key
            return run_windows(self.core.model(model_id), [job for _, _, job in group], opts)

        return await asyncio.to_thread(run_batched, items, lambda it: (it[0], it[1]), run)

    def _runner(self, model_id: str, loop: asyncio.AbstractEventLoop) -> Runner:
        """A runner for the core (called from its worker thread) that queues each window."""

        def run(jobs: list[WindowJob], opts: SampleOptions) -> list[WindowResult]:
            async def gather() -> list[WindowResult]:
                results = await asyncio.gather(*(self._windows((model_id, opts, j)) for j in jobs))
                return [raise_if_failed(r) for r in results]

            return asyncio.run_coroutine_threadsafe(gather(), loop).result()

        return run


build_app = app_builder(RefinerDeployment)
