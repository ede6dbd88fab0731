"""What `reddoor` with no command starts.

The desktop application is not built yet: until it is, `reddoor` (and `make run`) runs the
headless practice round trip and says so.
"""

from __future__ import annotations

import argparse

from app.commands.demo import run_demo


def launch_gui(args: argparse.Namespace) -> int:
    print(
        "Red Door: the desktop application is not built yet; running the headless practice "
        "round trip instead (reddoor demo).\n"
    )
    return run_demo(args)
