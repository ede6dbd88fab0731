"""The pad ceremony as data: its steps, who confirms each, and what each writes.

The state machine (ceremony/state_machine.py) drives these steps and ceremony/step_work.py does
each one's work; the CLI and the Qt wizard render them; the officer runbook (docs/ceremony.md)
and the printed run-sheet are generated from them. The script hash (SHA-256 of the canonical
JSON of the step definitions) goes into the ledger with every ceremony and is printed as words
on the runbook, so officers can check that the runbook in their hands is the script the station
runs.

Regenerate the runbook with ``python -m ceremony.steps --write docs/ceremony.md``; a test
checks the committed file matches.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from custody import canonical_json
from custody.fingerprint_words import phrase

BOTH = "both officers"
STATION = "the station (automatic)"


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    activity: str  # what the officers do, in the runbook's words
    confirms: str  # who confirms it
    question: str  # what they confirm (asked by the wizard / CLI handler)
    event: str  # the two-officer ledger event that records the confirmation
    writes: tuple[str, ...]  # what the step writes besides the ledger event


STEPS: tuple[Step, ...] = (
    Step(
        id="prepare",
        title="Prepare",
        activity=(
            "Check the station: the facility home opens, the HSM token is present and logged "
            "in, the ledger verifies. Insert the customer USB drive; the station shows its "
            "vendor, model, serial and size and refuses a drive that is too small or already "
            "holds a pad. Choose the pad size, the direction split and the frame policy "
            "(otp-only unless the facility chose a pad-keyed mode for this pad)."
        ),
        confirms=STATION,
        question="",
        event="",
        writes=("ceremony journal (HOME/ceremonies/<id>/journal.json)",),
    ),
    Step(
        id="authenticate",
        title="Two officers authenticate",
        activity=(
            "Officer A and officer B each type their own passphrase. The same officer twice, "
            "an unknown or retired officer, or a wrong passphrase is refused and recorded. "
            "Both sign the ceremony plan (size, split, frame policy, mark, customer drive, "
            "sources, script hash)."
        ),
        confirms=BOTH,
        question="Do both officers approve this ceremony plan?",
        event="ceremony.started",
        writes=(),
    ),
    Step(
        id="sources",
        title="Check the entropy sources",
        activity=(
            "The station opens each entropy source, records its identity (device, driver, HSM "
            "model and serial), measures its rate and shows the estimated generation time. A "
            "slow source (this class of virtual machine: about 10 KiB/s) makes large pads take "
            "hours: the station suggests sizes for the expected usage."
        ),
        confirms=BOTH,
        question="Are these the sources, and is the estimated time acceptable?",
        event="ceremony.sources_checked",
        writes=(),
    ),
    Step(
        id="generate",
        title="Generate the pad",
        activity=(
            "The station reads every source separately, runs the SP 800-90B start-up and "
            "continuous health tests on each raw source, XORs them and streams the pad to the "
            "customer drive. Any health alarm, or pad statistics inconsistent with uniform "
            "bytes (p < 1e-6), stops the ceremony and zeroizes what was generated. Read the "
            "pad's Merkle root aloud as words."
        ),
        confirms=BOTH,
        question="Do both officers read the same pad fingerprint words?",
        event="pad.generated",
        writes=("customer drive: pad.bin.partial (0600)", "HOME/ceremonies/<id>/manifest.json"),
    ),
    Step(
        id="customer_copy",
        title="Write the customer copy",
        activity=(
            "The station completes the pad directory on the customer drive (pad.bin, "
            "manifest.json, journal.json), flushed to the medium with fsync."
        ),
        confirms=BOTH,
        question="Is the customer copy on the drive the station names (vendor, model, serial)?",
        event="pad.customer_copy_written",
        writes=("customer drive: pad.bin, manifest.json, journal.json",),
    ),
    Step(
        id="facility_copy",
        title="Write the facility copy",
        activity=(
            "The HSM generates a per-pad, non-extractable AES-256 key. The station encrypts the "
            "pad on the token in 1 MiB chunks (AES-256-GCM, random 96-bit nonce per chunk, pad "
            "id and chunk index as associated data) into the facility home. Destroying that key "
            "later crypto-erases the facility copy."
        ),
        confirms=BOTH,
        question="Is the facility copy under the HSM key label shown?",
        event="pad.facility_copy_written",
        writes=("HSM: key reddoor-pad-<pad id hex>", "HOME/vault/<pad id hex>/"),
    ),
    Step(
        id="verify",
        title="Verify both copies",
        activity=(
            "The station reads the customer copy back from the drive, past the page cache, and "
            "decrypts every facility chunk on the token, and checks both against the per-chunk "
            "hashes and the Merkle root. A mismatch stops the ceremony."
        ),
        confirms=BOTH,
        question="Did both copies verify against the Merkle root?",
        event="pad.copies_verified",
        writes=(),
    ),
    Step(
        id="seal",
        title="Seal the customer drive",
        activity=(
            "Remove the drive, put it in a tamper-evident bag and seal it. Officer A reads the "
            "bag serial, officer B types it; then it is typed a second time. The two must match."
        ),
        confirms=BOTH,
        question="Is the drive sealed in the bag with this serial?",
        event="pad.sealed",
        writes=(),
    ),
    Step(
        id="receipt",
        title="Close the ceremony and print the receipt",
        activity=(
            "Both officers sign the closing event; the station emits a signed checkpoint and the "
            "inclusion proof of the closing event and writes the custody receipt (PDF). Print "
            "it; both officers sign it."
        ),
        confirms=BOTH,
        question="Do both officers close the ceremony?",
        event="ceremony.closed",
        writes=("custody receipt PDF",),
    ),
    Step(
        id="close",
        title="Receipt signed, leave the room",
        activity=(
            "Both officers confirm the printed receipt is signed. The receipt's SHA-256 is "
            "recorded. The sealed drive leaves with the courier or the customer."
        ),
        confirms=BOTH,
        question="Is the printed receipt signed by both officers?",
        event="ceremony.receipt_signed",
        writes=(),
    ),
)

STEP_IDS: tuple[str, ...] = tuple(s.id for s in STEPS)
# Recorded outside the normal flow (see docs/ceremony.md "Exceptions").
EXCEPTION_EVENT = "ceremony.exception"
ABORT_EVENT = "ceremony.aborted"
FAILED_EVENT = "ceremony.failed"  # automatic, no approvals: a fault stopped the ceremony
TWO_PERSON_EVENTS: frozenset[str] = frozenset(
    {s.event for s in STEPS if s.event} | {EXCEPTION_EVENT, ABORT_EVENT}
)


def step(step_id: str) -> Step:
    for s in STEPS:
        if s.id == step_id:
            return s
    raise KeyError(step_id)


def script_bytes() -> bytes:
    """The canonical form the script hash covers."""
    return canonical_json.dumps(
        {"format": "reddoor-ceremony-script/1", "steps": [_step_dict(s) for s in STEPS]}
    )


def _step_dict(s: Step) -> dict[str, object]:
    d = asdict(s)
    d["writes"] = list(s.writes)
    return d


def script_sha256() -> bytes:
    return hashlib.sha256(script_bytes()).digest()


def script_words() -> str:
    return phrase(script_sha256())


def render_runbook() -> str:
    """docs/ceremony.md, generated from STEPS."""
    digest = script_sha256()
    lines = [
        "# Pad ceremony runbook",
        "",
        "<!-- Generated by `python -m ceremony.steps --write docs/ceremony.md` from",
        "     ceremony/steps.py. Do not edit by hand: a test checks it matches. -->",
        "",
        "Two enrolled officers generate a one-time pad from the hardware RNG and leave the room "
        "with a sealed customer USB drive, an HSM-protected facility copy, a ledger that records "
        "every step and a custody receipt both have signed.",
        "",
        f"**Script hash** (SHA-256 of the step definitions): `{digest.hex()}`",
        "",
        f"Read aloud: **{phrase(digest)}**",
        "",
        "The station shows the same words; if they differ, stop: the station runs another "
        "script than this runbook describes.",
        "",
        "## Steps",
        "",
        "| # | step | who confirms | ledger event |",
        "|---|---|---|---|",
    ]
    for i, s in enumerate(STEPS, 1):
        lines.append(f"| {i} | {s.title} | {s.confirms} | {f'`{s.event}`' if s.event else '-'} |")
    for i, s in enumerate(STEPS, 1):
        lines += ["", f"### {i}. {s.title} (`{s.id}`)", "", s.activity, ""]
        lines.append(f"- **Who confirms:** {s.confirms}.")
        if s.question:
            lines.append(f"- **The station asks:** {s.question}")
        if s.event:
            lines.append(f"- **Ledger:** `{s.event}`, signed by both officers.")
        for w in s.writes:
            lines.append(f"- **Writes:** {w}")
        lines += ["- Initials A: ______  Initials B: ______  Time: ________"]
    lines += [
        "",
        "## Running it",
        "",
        "```",
        "reddoor ceremony run --size 64M --customer-dir /media/usb \\",
        "    --officer alice=/run/alice.pass --officer bob=/run/bob.pass \\",
        "    --bag-serial RD-000123 --source hwrng [--source pkcs11] [--split 1:3] [--json] \\",
        "    [--metrics-textfile /var/lib/prometheus/node-exporter/reddoor-entropy.prom]",
        "reddoor ceremony status | resume --officer ... --officer ... | abort --reason TEXT ...",
        "reddoor ceremony resume --receipt-signed --officer ... --officer ...   # step 10",
        "reddoor receipt PADID --out receipt.pdf",
        "```",
        "",
        "`--metrics-textfile PATH.prom` (on `run` and `resume`; off unless given) writes the "
        "entropy figures — each source's bytes and rate, each health test's highest value "
        "against its cutoff, the alarm counts, the pad's progress and statistics — as a "
        "Prometheus textfile for node_exporter, replaced atomically when the ceremony starts, "
        "about once a second while the pad is generated, and at the end; never a pad byte or "
        "an officer's name. Prometheus alerts on a health-test alarm "
        '(`RedDoorEntropyHealthAlarm`). docs/entropy.md, "Metrics", lists the metrics and '
        "the node_exporter setup.",
        "",
        "Passphrases come from files (or the wizard), never from the command line. Practice "
        "homes mark every pad, event and receipt PRACTICE; a practice pad can never be "
        "activated in a production home. The OS CSPRNG (`--source os`) is allowed as the only "
        "source in practice homes only.",
        "",
        "## Interruptions, failures and exceptions",
        "",
        "- **Crash or power loss** (kill -9, power cut, Ctrl-C): the ceremony journal in the "
        "home says which steps completed. `reddoor ceremony resume` asks both officers again, "
        "records a `ceremony.exception` (expected: an uninterrupted ceremony; what happened: "
        "interrupted at step N; decision: resume) and continues from the first step not "
        "completed; a step's work is redone unless the journal recorded it done. "
        "`reddoor ceremony abort --reason TEXT` records the same exception with the decision "
        "abort, zeroizes and deletes the partial material (customer drive files, vault "
        "chunks) and destroys the per-pad HSM key, then records `ceremony.aborted`. A "
        "ceremony that stopped to wait for an answer (no bag serial and no terminal; step 10) "
        "was not interrupted: resuming it records no exception.",
        "- **Receipt not yet signed** (step 10): step 10 is asked only while the receipt "
        "written at step 9 is on disk with the SHA-256 recorded for it. On a terminal "
        "`ceremony run` asks once the receipt is written (type yes); without a terminal, "
        "with any other answer, or No in the wizard, the ceremony waits at step 10: the pad "
        "is made, sealed and recorded (`ceremony.closed`), nothing is destroyed, and "
        "`ceremony abort` refuses (a made pad is destroyed through its custody lifecycle). "
        '`ceremony run --json` then prints `"receipt_signed": false`. Once both officers '
        "have signed the printout, `reddoor ceremony resume --receipt-signed` records "
        "`ceremony.receipt_signed`.",
        "- **Fault** (a health-test alarm, pad statistics inconsistent with uniform, a copy "
        "that does not verify, a drive or HSM error, a cancel): the station stops at once, "
        "zeroizes and deletes everything the ceremony produced, and records `ceremony.failed` "
        "(automatic, no approvals) with the step and the one-line reason. Start a new "
        "ceremony.",
        "- **Bag serial typed differently twice**: asked again; after three mismatches the "
        "station records a `ceremony.exception` and stops (resume later or abort).",
        "- Zeroizing a flash drive is best effort (wear levelling keeps old cells); destroying "
        "the HSM key is a real crypto-erase of the facility copy.",
        "",
        "## How the copies are made and checked",
        "",
        "- **Customer copy**: the pad streams from the mixer straight to "
        "`pad.bin.partial` on the drive (0600), hashed per chunk as it passes, then fsynced and "
        "renamed to `pad.bin` beside `manifest.json` and `journal.json` (docs/pad-format.md). "
        "The drive is refused if it is missing, holds a pad or any other file (except "
        "`lost+found` and similar), lacks free space for the pad plus 256 KiB, or, in a "
        "production home, is not on a removable drive (sysfs `removable`).",
        "- **Read-back** bypasses the page cache with `fsync` then "
        "`posix_fadvise(POSIX_FADV_DONTNEED)` over the whole file, then a fresh read; every "
        "chunk hash and the Merkle root must match. (O_DIRECT is refused by tmpfs and some "
        "FUSE filesystems and needs aligned buffers; DONTNEED is a no-op on tmpfs, whose pages "
        "are the medium.)",
        "- **Facility copy** (`custody/pad/vault.py`): "
        "`HOME/vault/<pad id hex>/chunks/NNNNNN.gcm` = "
        "`RDV1` ‖ 12-byte nonce from the token RNG ‖ AES-256-GCM ciphertext ‖ 16-byte tag, "
        "encrypted on the token under `reddoor-pad-<pad id hex>` (non-extractable), associated "
        "data `reddoor-vault/1` ‖ pad id ‖ chunk index (u64 BE). Each chunk is checked against "
        "the manifest's chunk hash before it is encrypted. The facility side reads by "
        "decrypting on the token (at most two decrypted chunks cached, wiped on eviction).",
        "- **Zeroizing the facility copy**: GCM cannot zero inside a chunk, so used ranges are "
        "zeroed in the cached plaintext at once and each touched chunk is re-encrypted with "
        "its used ranges zeroed under a fresh nonce, atomically replacing the old file, before "
        "the facility journal moves on (the journal stays the authority on reuse). Old "
        "ciphertext that a disk or backup kept is erased only by destroying the key.",
        "- **Statistics stop the ceremony** when the monobit or byte chi-square p-value is "
        "below 1e-6: an ideal pad trips this about once in 500,000 ceremonies, and a false "
        "alarm costs one re-run while a missed fault costs a pad.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render or check docs/ceremony.md")
    parser.add_argument("--write", type=Path, help="write the runbook to this file")
    parser.add_argument("--check", type=Path, help="exit 1 if this file differs")
    args = parser.parse_args(argv)
    text = render_runbook()
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    elif args.check:
        if args.check.read_text(encoding="utf-8") != text:
            print(f"{args.check} is out of date; regenerate it", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
