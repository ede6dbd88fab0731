"""The `reddoor` command line: headless, never imports PySide6 (except `reddoor` with no
command, which opens the desktop application through app.gui.launch).

main (parsing, exit codes, logging) and one module per command group (`*_commands.py`), plus
what they share: numeric option types and where a question comes from.
"""
