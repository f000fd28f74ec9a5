"""Optional TLS and mutual TLS on the gRPC servers (``DyadServer``) and clients, with
certificates made here: a CA, a server certificate for 127.0.0.1, client certificates from
that CA and from a stranger's."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dyad.config import PlatformSettings, load
from dyad.errors import ConfigError
from dyad.rpc import DyadServer, ServerOptions, aio_channel, sync_channel
from dyad.rpc.tls import channel_credentials, server_credentials

Key = ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: Key,
    issuer: tuple[str, Key] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        b = b.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return b.sign(issuer_key, hashes.SHA256())


def _write(d: Path, name: str, cert: x509.Certificate, key: Key | None = None) -> None:
    (d / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (d / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    _write(d, "ca", _cert("dyad-test-ca", ca_key, None, ca=True))
    _write(d, "other-ca", _cert("stranger-ca", other_key, None, ca=True))
    for name, issuer in (("server", ("dyad-test-ca", ca_key)),):
        k = ec.generate_private_key(ec.SECP256R1())
        _write(d, name, _cert("dyad-server", k, issuer, server=True), k)
    for name, issuer in (
        ("client", ("dyad-test-ca", ca_key)),
        ("stranger", ("stranger-ca", other_key)),
    ):
        k = ec.generate_private_key(ec.SECP256R1())
        _write(d, name, _cert(name, k, issuer), k)
    return d


def _server(pki: Path, *, mtls: bool) -> PlatformSettings:
    return PlatformSettings(
        grpc_port=0,
        grpc_tls_cert=pki / "server.crt",
        grpc_tls_key=pki / "server.key",
        grpc_tls_client_ca=pki / "ca.crt" if mtls else None,
    )


def _client(pki: Path, cert: str = "") -> PlatformSettings:
    return PlatformSettings(
        grpc_tls_ca=pki / "ca.crt",
        grpc_tls_cert=pki / f"{cert}.crt" if cert else None,
        grpc_tls_key=pki / f"{cert}.key" if cert else None,
    )


PLAIN = PlatformSettings()


def _run(server_settings: PlatformSettings, test: Callable[[int], Awaitable[Any]]) -> Any:
    server = DyadServer("tls-test", ServerOptions.from_settings(server_settings))

    async def main() -> Any:
        port = await server.start()
        await server.set_serving(True)
        try:
            return await test(port)
        finally:
            await server.stop(0.2)

    return asyncio.run(main())


async def _check(port: int, client: PlatformSettings) -> grpc.StatusCode:
    """OK when a health check gets through, else the status the client saw."""
    async with aio_channel(f"127.0.0.1:{port}", settings=client) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        try:
            resp = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.aio.AioRpcError as e:
            return e.code()
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
        return grpc.StatusCode.OK


def test_tls_server_takes_tls_clients_and_refuses_plaintext(pki: Path) -> None:
    async def t(port: int) -> None:
        assert await _check(port, _client(pki)) == grpc.StatusCode.OK
        assert await _check(port, PLAIN) == grpc.StatusCode.UNAVAILABLE
        # A client that trusts another CA refuses the server.
        stranger = dataclasses.replace(_client(pki), grpc_tls_ca=pki / "other-ca.crt")
        assert await _check(port, stranger) == grpc.StatusCode.UNAVAILABLE

    _run(_server(pki, mtls=False), t)


def test_mtls_server_requires_a_client_certificate_from_its_ca(pki: Path) -> None:
    async def t(port: int) -> None:
        assert await _check(port, _client(pki, "client")) == grpc.StatusCode.OK
        assert await _check(port, _client(pki)) == grpc.StatusCode.UNAVAILABLE  # no cert
        assert await _check(port, _client(pki, "stranger")) == grpc.StatusCode.UNAVAILABLE
        assert await _check(port, PLAIN) == grpc.StatusCode.UNAVAILABLE

    _run(_server(pki, mtls=True), t)


def test_sync_channel_speaks_mtls(pki: Path) -> None:
    """The blocking channel (the worker's ``ServedStages``) with the same settings."""

    async def t(port: int) -> None:
        def call(client: PlatformSettings) -> grpc.StatusCode:
            with sync_channel(f"127.0.0.1:{port}", settings=client) as ch:
                try:
                    health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
                except grpc.RpcError as e:
                    return e.code()
                return grpc.StatusCode.OK

        assert await asyncio.to_thread(call, _client(pki, "client")) == grpc.StatusCode.OK
        assert await asyncio.to_thread(call, PLAIN) == grpc.StatusCode.UNAVAILABLE

    _run(_server(pki, mtls=True), t)


def test_settings_come_from_the_environment(pki: Path) -> None:
    s = load(
        PlatformSettings,
        environ={
            "DYAD_GRPC_TLS_CERT": str(pki / "server.crt"),
            "DYAD_GRPC_TLS_KEY": str(pki / "server.key"),
            "DYAD_GRPC_TLS_CLIENT_CA": str(pki / "ca.crt"),
            "DYAD_GRPC_TLS_CA": str(pki / "ca.crt"),
        },
    )
    assert ServerOptions.from_settings(s).credentials is not None
    assert channel_credentials(s) is not None
    assert ServerOptions.from_settings(PLAIN).credentials is None
    assert channel_credentials(PLAIN) is None


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"grpc_tls_cert": Path("/no/such/server.crt")}, "DYAD_GRPC_TLS_CERT"),
        ({"grpc_tls_key": Path("/no/such/server.key")}, "DYAD_GRPC_TLS_KEY"),
        ({"grpc_tls_key": None}, "DYAD_GRPC_TLS_KEY"),
        ({"grpc_tls_cert": None}, "DYAD_GRPC_TLS_CERT"),
        ({"grpc_tls_client_ca": Path("/no/such/ca.crt")}, "DYAD_GRPC_TLS_CLIENT_CA"),
        ({"grpc_tls_client_ca": "pki"}, "DYAD_GRPC_TLS_CLIENT_CA"),  # a directory
        ({"grpc_tls_cert": "not-pem"}, "DYAD_GRPC_TLS_CERT"),
        (
            {"grpc_tls_cert": None, "grpc_tls_key": None, "grpc_tls_client_ca": "ca"},
            "DYAD_GRPC_TLS_CLIENT_CA",
        ),
    ],
)
def test_bad_server_files_name_the_setting(
    pki: Path, tmp_path: Path, change: dict[str, Any], setting: str
) -> None:
    (tmp_path / "not-pem").write_text("hello")
    resolved = {
        k: {"pki": pki, "not-pem": tmp_path / "not-pem", "ca": pki / "ca.crt"}.get(v, v)
        if isinstance(v, str)
        else v
        for k, v in change.items()
    }
    s = dataclasses.replace(_server(pki, mtls=True), **resolved)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as e:
        server_credentials(s)
    assert e.value.setting == setting
    with pytest.raises(ConfigError):  # at start-up, before anything binds
        ServerOptions.from_settings(s)


def test_bad_client_files_name_the_setting(pki: Path) -> None:
    with pytest.raises(ConfigError) as e:
        aio_channel("127.0.0.1:1", settings=PlatformSettings(grpc_tls_ca=Path("/no/ca.crt")))
    assert e.value.setting == "DYAD_GRPC_TLS_CA"
    half = dataclasses.replace(_client(pki, "client"), grpc_tls_key=None)
    with pytest.raises(ConfigError) as e:
        sync_channel("127.0.0.1:1", settings=half)
    assert e.value.setting == "DYAD_GRPC_TLS_KEY"


def test_a_service_over_mtls(pki: Path, tmp_path: Path) -> None:
    """A real service's standalone server (the dialogue's ``build_server``) over mTLS."""
    from dyad.services.dialogue.__main__ import build_server
    from dyad.services.dialogue.settings import DialogueSettings
    from dyad.v1 import dialogue_service_pb2 as pb
    from dyad.v1 import dialogue_service_pb2_grpc as pb_grpc

    platform = dataclasses.replace(
        _server(pki, mtls=True), store_uri=f"file://{tmp_path / 'store'}"
    )
    server = build_server(platform, DialogueSettings())

    async def main() -> None:
        port = await server.start()
        await server.warm_up_and_serve()
        try:
            async with aio_channel(f"127.0.0.1:{port}", settings=_client(pki, "client")) as ch:
                out = await pb_grpc.DialogueServiceStub(ch).WriteDialogues(
                    pb.WriteDialoguesRequest(prompt="two friends plan a trip"), timeout=60
                )
                assert len(out.dialogues) == 1
            async with aio_channel(f"127.0.0.1:{port}", settings=PLAIN) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await pb_grpc.DialogueServiceStub(ch).WriteDialogues(
                        pb.WriteDialoguesRequest(prompt="two friends"), timeout=5
                    )
                assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await server.stop(0.2)

    asyncio.run(main())
