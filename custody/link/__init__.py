"""The OTP link over Eclipse Zenoh: workstation questions, facility answers.

zenoh_transport (the Zenoh seam), keys (key expressions), messages (query encoding, costs),
workstation (the SCIF client), gateway (the headless facility server), answer_cache (byte-
identical resends), chronicle (one record per query, into the ledger), backends (echo, OpenAI-
compatible). Imports the pad and ledger layers and the foundation. Protocol: docs/protocol.md.
"""
