"""Red Door ceremony core: entropy sources, health tests, the two-person ceremony. Qt-free.

Entropy: entropy_sources (the source protocol, the OS CSPRNG, PKCS#11 tokens, the policy on
mixing), entropy_devices (hardware RNG devices, FIFOs), entropy_doubles (test doubles that fail
closed), entropy_specs (the `--source` spellings), health_tests (SP 800-90B), mixer (XOR and
health monitoring while generating), pad_statistics, sizing. The ceremony: steps (the steps as
data and the runbook), state_machine (transitions, confirmations, resume, abort), step_work
(what each step does), run_context (what one run holds: journal, sources, the two officers),
handler (the questions to the officers), ceremony_plan (plan and outcome), ceremony_journal,
usb_media (the customer medium), receipt_data, errors. Imports custody; never app.
"""
