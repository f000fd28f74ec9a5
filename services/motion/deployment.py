"""Ray Serve deployment of the motion service, behind Serve's gRPC proxy (wiring only).

A request's ``model_id`` (neural backend) is loaded through ``@serve.multiplexed``, so Serve
routes it to replicas that already hold that checkpoint. Serve config:
``grpc_servicer_functions`` must include
``dyad.v1.motion_service_pb2_grpc.add_MotionServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

from dyad.rpc.serve import ServedService, app_builder, grpc_methods
from dyad.services.motion.core import MotionCore
from dyad.services.motion.servicer import MotionServicer
from dyad.services.motion.settings import MotionSettings


@serve.deployment(name="Motion")
@grpc_methods(unary=("GenerateMotion",), streaming=("StreamMotion",))
class MotionDeployment(ServedService):
    def build(self, store: Any) -> MotionServicer:
        self.core = MotionCore(store, MotionSettings.from_env())
        self.core.warm_up()
        return MotionServicer(self.core)

    @serve.multiplexed(max_num_models_per_replica=3)
    async def load_checkpoint(self, model_id: str) -> Any:
        return await asyncio.to_thread(self.core.neural.model, model_id)

    async def before_call(self, method: str, request: Any) -> None:
        if request.backend == "neural" and request.model_id:
            await self.load_checkpoint(request.model_id)


build_app = app_builder(MotionDeployment)
