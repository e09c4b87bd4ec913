"""The desktop app (PyQt6): live tiles with overlays, per-face meters, a threshold slider, alerts.

Kept light on purpose: importing this package imports no Qt. `main.run_app` starts the app;
`worker` bridges the Qt-free engine to the GUI, `window`, `widgets`, `region` and `dialogs`
are the GUI, `settings` persists what the user chose, `devices` finds webcams and monitors,
`display` checks that a window can be opened at all.
"""

from __future__ import annotations
