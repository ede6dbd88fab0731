"""Auditor reports from the custody ledger, one module per report: `inventory`,
`pad_custody` (one pad's chain of custody), `consumption`, `verification`, `runsheet` (the
ceremony run-sheet) and `destruction_certificate`. What they share (the verified ledger state
a report reflects, its page furniture, common look-ups and wording) is in `shared`, and
`builders` names them all. Each report is a `*_data` function (the JSON `reddoor report
--json` prints) and a `*_pdf` function that lays that data out with
`custody.documents.pdf.document` (the reportlab seam).

Deterministic: the document date is the time of the ledger's last event and nothing reads the
clock, so the same ledger state gives the same bytes (checkpoint signatures are Ed25519,
deterministic too).
"""
