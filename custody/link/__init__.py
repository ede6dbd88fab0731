"""The OTP link over Eclipse Zenoh: workstation questions, facility answers.

zenoh_transport (the Zenoh seam), keys (key expressions), messages (query encoding, costs).

The workstation: workstation (`WorkstationClient`, the SCIF client) with outbox (sealed frames
until the answer ends), presence (gateways and their receive mark, from liveliness), query_frames
(the question sealed up front, the answer put in order) and cover_sender (w2f cover traffic).

The facility: gateway (`Gateway`, the headless server) with pad_providers (where its pad copies
come from), lane (one served pad's state and locks), assembly (questions from fragments,
retransmissions), answering (backend text into budgeted frames), f2w_sender (sealing, publishing,
f2w cover traffic), receive_mark (announcing how far it has received), answer_cache (byte-
identical resends), chronicle (one record per query, into the ledger), backends (echo, OpenAI-
compatible).

Imports the pad and ledger layers and the foundation. Protocol: docs/protocol.md.
"""
