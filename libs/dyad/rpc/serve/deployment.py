"""The one scaffold every Ray Serve deployment is built from.

A service's ``deployment.py`` only wires: it names its servicer, its RPCs and, where it has
them, a pre-call hook (load a multiplexed checkpoint) and a batching queue::

    @serve.deployment(name="Motion")
    @grpc_methods(unary=("GenerateMotion",), streaming=("StreamMotion",))
    class MotionDeployment(ServedService):
        def build(self, store):                      # runs once per replica
            core = MotionCore(store, MotionSettings.from_env())
            core.warm_up()                           # healthy only once it can serve
            return MotionServicer(core)

    build_app = app_builder(MotionDeployment)        # Serve config's import_path

What the scaffold gives every deployment:

- the replica set-up (``replica_store``: platform settings, JSON logs, the artefact store);
- ``grpc.health.v1`` ``Check`` through the proxy (a constructed replica has warmed up);
- one method per RPC, named as Serve routes (the rpc name), delegating to the servicer under
  the error contract of ``errors.py`` (unary and server streaming alike);
- ``reconfigure(user_config)``: the Serve config's ``user_config`` — batching sizes, one
  spelling (``batching.BatchSettings``) — applied to the deployment's ``@serve.batch`` methods.

Replica resources (``num_cpus``, ``num_gpus``, ``max_ongoing_requests``), autoscaling and
batching are read from ``deploy/ray/serve_config.yaml`` — the one source of truth
(``dyad.serving.config``); nothing here sets them. Nothing here imports ray.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from grpc_health.v1 import health_pb2

from dyad import logs
from dyad.rpc.serve.batching import BatchSettings
from dyad.rpc.serve.errors import streaming, unary

C = TypeVar("C", bound=type)


def replica_store() -> Any:
    """What every Ray Serve replica does first: settings from the environment, JSON logs
    configured from them, and the artefact store they name."""
    from dyad.config import PlatformSettings, load
    from dyad.storage import open_store

    platform = load(PlatformSettings)
    logs.configure(platform.log_level, json_format=platform.log_json)
    return open_store(platform)


class ServedService:
    """The replica side of a deployment: set-up, health, delegation hooks, batching."""

    #: ``@serve.batch`` methods ``reconfigure`` tunes (names of this class's attributes).
    batched_methods: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.store = replica_store()
        self.servicer = self.build(self.store)

    def build(self, store: Any) -> Any:
        """The servicer, after the core is loaded and warmed up (subclasses implement it)."""
        raise NotImplementedError

    async def before_call(self, method: str, request: Any) -> None:
        """Runs inside the error contract before each RPC (e.g. load a multiplexed model)."""

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Serve calls this with the config's ``user_config`` on start and on every change."""
        settings = BatchSettings.from_user_config(user_config)
        for name in self.batched_methods:
            settings.apply(getattr(self, name))

    async def Check(self, request: Any, grpc_context: Any = None) -> Any:
        """``grpc.health.v1`` through the proxy: a constructed replica has warmed up."""
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def _unary_rpc(name: str) -> Callable[..., Any]:
    async def rpc(self: ServedService, request: Any, grpc_context: Any = None) -> Any:
        await self.before_call(name, request)
        return await getattr(self.servicer, name)(request, grpc_context)

    rpc.__name__ = rpc.__qualname__ = name
    return unary(rpc)


def _streaming_rpc(name: str) -> Callable[..., AsyncIterator[Any]]:
    async def rpc(
        self: ServedService, request: Any, grpc_context: Any = None
    ) -> AsyncIterator[Any]:
        await self.before_call(name, request)
        async for item in getattr(self.servicer, name)(request, grpc_context):
            yield item

    rpc.__name__ = rpc.__qualname__ = name
    return streaming(rpc)


def grpc_methods(
    *, unary: tuple[str, ...] = (), streaming: tuple[str, ...] = ()
) -> Callable[[C], C]:
    """Add one delegating method per RPC to a ``ServedService`` subclass; a method the class
    defines itself is kept (wrap it in ``errors.unary``/``errors.streaming`` yourself)."""

    def decorate(cls: C) -> C:
        for names, make in ((unary, _unary_rpc), (streaming, _streaming_rpc)):
            for name in names:
                if name not in cls.__dict__:
                    setattr(cls, name, make(name))
        return cls

    return decorate


def app_builder(deployment: Any) -> Callable[[dict[str, Any] | None], Any]:
    """The Serve config's ``import_path`` target for a ``@serve.deployment`` class."""

    def build_app(args: dict[str, Any] | None = None) -> Any:
        return deployment.bind()

    return build_app
