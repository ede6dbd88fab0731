"""The PySide6 desktop application: the station chooser, the ceremony wizard, the custody
and workstation views, the kiosk. PySide6 is imported only here (and only when the application
opens); its non-Qt helpers (facility, practice link, models) live here because only it uses them.
"""
