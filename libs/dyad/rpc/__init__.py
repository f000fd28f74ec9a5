"""gRPC helpers shared by every service: error interceptor, server bootstrap, client channels."""

from dyad.rpc.client import error_from_rpc, insecure_channel, remaining_timeout
from dyad.rpc.interceptor import ErrorInterceptor
from dyad.rpc.server import DyadServer, ServerOptions, serve_main, single_service_server
from dyad.rpc.tls import aio_channel, sync_channel

__all__ = [
    "DyadServer",
    "ErrorInterceptor",
    "ServerOptions",
    "aio_channel",
    "error_from_rpc",
    "insecure_channel",
    "remaining_timeout",
    "serve_main",
    "single_service_server",
    "sync_channel",
]
