"""The data-diode bridge: the link across two one-way UDP links, with no path back.

`sender` subscribes on one side's router to the traffic of one direction and sends it as
datagrams (`datagram`: the outer header; `fec`: RaptorQ repair symbols, the one module that
imports raptorq); `receiver`, on the other side, rebuilds and publishes it. `status` reads what
a receiver last heard, for "facility seen N s ago (via diode)". The bridge holds no pad and no
key: it moves authenticated frames it cannot read. docs/deploy-link.md says how to deploy it.
"""
