"""Key expressions, cover cost and the openai backend's error messages."""

from __future__ import annotations

import pytest

from custody.errors import BackendError, UsageError
from custody.link import keys as link_keys
from custody.link.backends import OpenAIBackend
from custody.link.messages import cover_cost
from custody.pad.manifest import Direction
from tests.custody.link.fake_openai_server import FakeOpenAI


@pytest.mark.parametrize("bad", ["*", "**", "a/b", "$x", "ab*", "", "A" * 32, "g?", "x" * 70])
def test_user_input_never_becomes_a_wildcard(bad: str) -> None:
    with pytest.raises(UsageError):
        link_keys.check_gateway_name(bad)
    with pytest.raises(UsageError):
        link_keys.pad_id_from_hex(bad)


def test_keys() -> None:
    pid = bytes(range(16))
    key = link_keys.frame_key(pid, Direction.W2F)
    assert key == f"reddoor/v1/pad/{pid.hex()}/w2f"
    assert link_keys.parse_frame_key(key) == (pid, Direction.W2F)
    assert link_keys.floor_of(link_keys.gateway_floor_key("gw", pid, 123)) == 123


def test_cover_cost() -> None:
    c = cover_cost(1.0, 1024, remaining=10**9)
    assert c.bytes_per_day == 86400 * 1056 and c.days_left == pytest.approx(10**9 / c.bytes_per_day)
    with pytest.raises(UsageError):
        cover_cost(1.0, 1000)


@pytest.mark.parametrize(
    ("mode", "text"),
    [("http500", "HTTP 500"), ("garbage", "malformed"), ("cut", "ended the stream early")],
)
def test_openai_backend_errors(mode: str, text: str) -> None:
    with FakeOpenAI() as srv:
        srv.mode = mode
        with pytest.raises(BackendError, match=text) as exc:
            "".join(OpenAIBackend(srv.url, "m", timeout=5).stream("secret question"))
        assert "secret" not in str(exc.value)


def test_endpoints_are_checked_before_zenoh_sees_them() -> None:
    import pytest

    from custody.errors import UsageError
    from custody.link.zenoh_transport import check_endpoint

    for good in ("tcp/127.0.0.1:7447", "tls/facility.example:7447", "tcp/[::1]:7447"):
        assert check_endpoint(good) == good
    for bad in ("tcp/127.0.0.1:99999", "tcp/127.0.0.1:**", "tcp/host", "http://x:1", "tcp/:7447"):
        with pytest.raises(UsageError):
            check_endpoint(bad)
