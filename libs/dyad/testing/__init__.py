"""What tests and benchmarks share: real servers on loopback and free ports (``servers``: a
``redis-server``, moto's S3 server, the Serve config on a local Ray), an in-process gRPC server
harness (``grpc.with_server``) and small deterministic domain data (``data``). Never mocks."""

from dyad.testing.grpc import with_server
from dyad.testing.servers import RayServe, RedisServer, S3Server, free_port

__all__ = ["RayServe", "RedisServer", "S3Server", "free_port", "with_server"]
