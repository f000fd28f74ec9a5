"""What tests and benchmarks share: real servers on loopback and free ports (``servers``: a
``redis-server``, moto's S3 server, the Serve config on a local Ray), an in-process gRPC server
harness (``grpc.with_server``) and small deterministic domain data (``data``). Never mocks."""

from dyad.testing.cli import CliResult, run_cli
from dyad.testing.grpc import ServerThread, with_server
from dyad.testing.servers import RayServe, RedisServer, S3Server, ServedStack, free_port

__all__ = [
    "CliResult",
    "RayServe",
    "RedisServer",
    "S3Server",
    "ServedStack",
    "ServerThread",
    "free_port",
    "run_cli",
    "with_server",
]
