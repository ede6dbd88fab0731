"""TLS and mTLS pass through to Zenoh: certificates made here (CA, router for 127.0.0.1, clients);
the router refuses a client without a certificate or with one from another CA."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from custody.errors import RouterUnreachableError
from custody.link.backends import EchoBackend
from custody.link.gateway import Gateway
from custody.link.pad_providers import DirectoryPadProvider
from custody.link.zenoh_transport import LinkConfig, TlsSettings, Transport
from custody.pad.practice import make_practice_pad
from tests.custody.link.fixtures import make_pki


def _tls_endpoint() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tls/127.0.0.1:{port}"


def test_mtls_router_gateway_workstation_and_refusals(cli, tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    make_practice_pad(tmp_path / "p", 1 << 20)
    ep = _tls_endpoint()
    router = Transport(
        LinkConfig(
            mode="router",
            listen=(ep,),
            tls=TlsSettings(pki["ca"], pki["router"], pki["router_key"], mtls=True),
        )
    )
    gw_t = Transport(
        LinkConfig.for_endpoint(
            ep, tls=TlsSettings(pki["ca"], pki["gateway"], pki["gateway_key"], mtls=True)
        )
    )
    gw = Gateway(gw_t, DirectoryPadProvider(tmp_path / "p" / "facility"), EchoBackend())
    gw.start()
    try:
        r = cli(
            "ask",
            "--json",
            "--pad",
            str(tmp_path / "p" / "workstation"),
            "--connect",
            ep,
            "--tls-root-ca",
            str(pki["ca"]),
            "--tls-cert",
            str(pki["workstation"]),
            "--tls-key",
            str(pki["workstation_key"]),
            "--mtls",
            stdin=b"over mutual TLS",
        )
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["answer"] == "over mutual TLS"

        # No client certificate: the router refuses the session (a hang would hit the test
        # timeout; how fast the refusal comes is not this test's business).
        with pytest.raises(RouterUnreachableError):
            Transport(LinkConfig.for_endpoint(ep, tls=TlsSettings(pki["ca"])))
        # A certificate from another CA: refused too.
        with pytest.raises(RouterUnreachableError):
            Transport(
                LinkConfig.for_endpoint(
                    ep,
                    tls=TlsSettings(pki["ca"], pki["stranger"], pki["stranger_key"], mtls=True),
                )
            )
        # The CLI says so in one line, with the router-unreachable exit code, and spent no pad.
        r = cli(
            "ask",
            "--pad",
            str(tmp_path / "p" / "workstation"),
            "--connect",
            ep,
            "--tls-root-ca",
            str(pki["ca"]),
            stdin=b"question",
        )
        assert r.returncode != 0 and b"cannot reach the Zenoh router" in r.stderr
        assert b"Traceback" not in r.stderr
    finally:
        gw.stop()
        gw_t.close()
        router.close()
