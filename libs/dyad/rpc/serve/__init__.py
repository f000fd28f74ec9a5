"""Ray Serve deployments of Dyad services: one scaffold (``deployment``), one error contract
for unary and streaming methods (``errors``), batching as pure functions (``batching``)."""

from dyad.rpc.serve.batching import BatchSettings, raise_if_failed, run_batched
from dyad.rpc.serve.deployment import ServedService, app_builder, grpc_methods, replica_store
from dyad.rpc.serve.errors import RpcFailed, streaming, unary

__all__ = [
    "BatchSettings",
    "RpcFailed",
    "ServedService",
    "app_builder",
    "grpc_methods",
    "raise_if_failed",
    "replica_store",
    "run_batched",
    "streaming",
    "unary",
]
