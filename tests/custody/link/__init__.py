"""Tests of the link: real routers, gateways and workstations."""
