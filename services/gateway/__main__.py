"""``python -m dyad.services.gateway``: the Job API as a standalone gRPC server."""

from __future__ import annotations

from dyad.config import PlatformSettings
from dyad.queue import JobQueue, QueueConfig
from dyad.rpc import DyadServer, serve_main, single_service_server
from dyad.services.gateway.auth import Authenticator
from dyad.services.gateway.core import JobGateway
from dyad.services.gateway.servicer import JobServiceServicer
from dyad.services.gateway.settings import GatewaySettings
from dyad.storage import open_store
from dyad.v1 import job_service_pb2, job_service_pb2_grpc


def build_gateway(platform: PlatformSettings, settings: GatewaySettings) -> JobServiceServicer:
    """The servicer on the queue and store the platform settings name (tokens checked now)."""
    queue = JobQueue.from_url(platform.redis_url, QueueConfig.from_settings(platform))
    gateway = JobGateway(queue, open_store(platform), settings)
    return JobServiceServicer(gateway, Authenticator(settings))


def build_server(platform: PlatformSettings, settings: GatewaySettings) -> DyadServer:
    servicer = build_gateway(platform, settings)
    return single_service_server(
        "gateway",
        platform,
        job_service_pb2_grpc.add_JobServiceServicer_to_server,
        servicer,
        job_service_pb2.DESCRIPTOR,
        "JobService",
        # SERVING only once Redis answers and the consumer groups exist.
        warmup=servicer.gateway.ensure_groups,
    )


def export_queue_depth(platform: PlatformSettings) -> None:
    """The gauges of every job kind's queue on this process's ``/metrics`` too, not only on the
    workers' (each exports the kinds it takes): with a kind's workers scaled to zero (KEDA) or
    crashing, the lag of its waiting jobs must still be seen (the DyadWorkersDownWithQueuedJobs
    alert, per kind). Read from Redis at scrape; rules aggregate with max by kind."""
    from prometheus_client import REGISTRY

    from dyad.queue import QueueCollector
    from dyad.services.gateway.fitjobs import JOB_KINDS, kind_queue

    queue = JobQueue.from_url(platform.redis_url, QueueConfig.from_settings(platform))
    REGISTRY.register(QueueCollector({kind: kind_queue(queue, kind) for kind in JOB_KINDS}))


def _build(platform: PlatformSettings) -> DyadServer:
    if platform.metrics_port:
        export_queue_depth(platform)
    return build_server(platform, GatewaySettings.from_env())


if __name__ == "__main__":
    serve_main(_build)
