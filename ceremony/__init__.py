"""Red Door ceremony core: entropy sources, health tests, the two-person ceremony. Qt-free."""
