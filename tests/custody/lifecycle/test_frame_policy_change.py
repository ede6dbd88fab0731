"""A pad's frame policy: set at the ceremony, changed only by two officers (`pad.frame_policy`),
never looser than the manifest, enforced by a gateway of the home from its poll. Real practice
homes (SoftHSM2, SQLCipher); the CLI as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from custody.errors import ApprovalRefused, LifecycleError
from custody.ledger import home, officers
from custody.ledger.entry import TWO_PERSON_TYPES
from custody.lifecycle import acts, serving, states
from custody.pad.frame_policy import FramePolicy, PolicyMode

PAD = "00112233445566778899aabbccddeeff"
ALICE = ("alice", "alice passphrase 1")
BOB = ("bob", "bob passphrase 22")
PAD_KEYED = FramePolicy(PolicyMode.PAD_KEYED, otp_only_classifications=("SECRET",))
REPO = Path(__file__).resolve().parents[3]


def _home_with_pad(path: Path, policy: FramePolicy | None) -> None:
    home.init_home(path, practice=True)
    with home.open_home(path) as oh:
        officers.enroll(oh.ledger, *ALICE)
        officers.enroll(oh.ledger, *BOB)
        base = {"ceremony_id": "C-1", "pad_id": PAD, "mark": "PRACTICE"}
        generated = {**base, "size": 1 << 20}
        if policy is not None:
            generated["frame_policy"] = policy.to_dict()
        officers.append_with_officers(oh.ledger, "pad.generated", generated, [ALICE, BOB])
        officers.append_with_officers(oh.ledger, "ceremony.closed", base, [ALICE, BOB])


def test_the_event_is_two_person() -> None:
    assert states.FRAME_POLICY_EVENT in TWO_PERSON_TYPES


def test_two_officers_make_a_policy_stricter_and_a_gateway_poll_sees_it(tmp_path: Path) -> None:
    h = tmp_path / "home"
    _home_with_pad(h, PAD_KEYED)
    with home.open_home(h) as oh:
        rec = states.find_pad(oh.ledger, PAD)
        assert rec.policy == rec.manifest_frame_policy == PAD_KEYED
        poll = serving.LedgerStatePoll(oh, lambda: [bytes.fromhex(PAD)])
        try:
            assert poll.policies() == {bytes.fromhex(PAD): PAD_KEYED}
            # One officer, or the same officer twice: refused, recorded, nothing changed.
            for approvers in ([ALICE], [ALICE, ALICE]):
                with pytest.raises(ApprovalRefused) as exc:
                    acts.change_frame_policy(oh, PAD, FramePolicy(), approvers, "concern")
                assert exc.value.exit_code == 11
            assert states.find_pad(oh.ledger, PAD).policy == PAD_KEYED
            preferred = FramePolicy(PolicyMode.OTP_PREFERRED, 4096, ("SECRET",))
            e = acts.change_frame_policy(oh, PAD, preferred, [ALICE, BOB], "pad-keyed for cover")
            assert e.type == "pad.frame_policy" and len(e.approvals) == 2
            assert e.payload["from"] == PAD_KEYED.to_dict()
            assert e.payload["to"] == preferred.to_dict()
            assert poll.policies() == {bytes.fromhex(PAD): preferred}
            e = acts.change_frame_policy(oh, PAD, FramePolicy(), [ALICE, BOB], "ChaCha20 concern")
            assert poll.policies() == {bytes.fromhex(PAD): FramePolicy()}
            # Back up to the manifest's: allowed; beyond it: never.
            acts.change_frame_policy(oh, PAD, PAD_KEYED, [ALICE, BOB], "concern resolved")
            with pytest.raises(LifecycleError, match="never looser"):
                acts.change_frame_policy(
                    oh, PAD, FramePolicy(PolicyMode.PAD_KEYED), [ALICE, BOB], "drop SECRET"
                )
            with pytest.raises(LifecycleError, match="already has"):
                acts.change_frame_policy(oh, PAD, PAD_KEYED, [ALICE, BOB], "again")
        finally:
            poll.close()
        history = [h.summary for h in states.find_pad(oh.ledger, PAD).history]
        assert any("frame policy otp-only" in s and "ChaCha20 concern" in s for s in history)
        refused = [e for e in oh.ledger.events() if e.type == "approval.refused"]
        assert len(refused) == 2
        assert {e.payload["operation"] for e in refused} == {"pad.frame_policy"}
    v = _cli("ledger", "verify", "--home", str(h))
    assert v.returncode == 0, v.stdout + v.stderr


def test_a_pad_made_before_policies_is_otp_only_and_cannot_be_loosened(tmp_path: Path) -> None:
    h = tmp_path / "home"
    _home_with_pad(h, None)
    with home.open_home(h) as oh:
        assert states.find_pad(oh.ledger, PAD).policy == FramePolicy()
        with pytest.raises(LifecycleError, match="never looser"):
            acts.change_frame_policy(
                oh, PAD, FramePolicy(PolicyMode.OTP_PREFERRED), [ALICE, BOB], "save pad"
            )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_frame_policy_needs_two_officers(tmp_path: Path) -> None:
    h = tmp_path / "home"
    _home_with_pad(h, PAD_KEYED)
    files = []
    for name, passphrase in (ALICE, BOB):
        f = tmp_path / f"{name}.pass"
        f.write_text(passphrase + "\n")
        f.chmod(0o600)
        files.append(f"{name}={f}")
    base = ("pad", "frame-policy", PAD, "--home", str(h), "--reason", "concern")
    one = _cli(*base, "--frame-policy", "otp-only", "--officer", files[0])
    assert one.returncode == 2 and "two officers" in one.stderr
    r = _cli(*base, "--frame-policy", "otp-only", "--officer", files[0], "--officer", files[1])
    assert r.returncode == 0, r.stderr
    assert "frame policy now otp-only" in r.stdout
    both = ("--officer", files[0], "--officer", files[1])
    loose = _cli(*base, "--frame-policy", "pad-keyed", *both)  # drops the manifest's SECRET
    assert loose.returncode == 50 and "never looser" in loose.stderr
    back = _cli(
        *base, "--frame-policy", "pad-keyed", "--otp-only-classification", "secret", *both,
        "--json",
    )  # fmt: skip
    assert back.returncode == 0, back.stderr  # back to the manifest's: allowed
    assert json.loads(back.stdout)["payload"]["to"]["mode"] == "pad-keyed"
    bad = _cli(*base, "--frame-policy", "sometimes", "--officer", files[0], "--officer", files[1])
    assert bad.returncode == 2
    state = _cli("custody", "state", PAD, "--home", str(h), "--json")
    assert state.returncode == 0, state.stderr
    assert json.loads(state.stdout)[0]["frame_policy"]["mode"] == "pad-keyed"
