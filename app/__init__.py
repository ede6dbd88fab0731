"""Red Door application layer: the CLI and (lazily) the PySide6 desktop application.

Importing this package must not import PySide6: the CLI runs headless on servers.
"""
