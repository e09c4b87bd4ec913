"""Starting and stopping the app: display check, theme, window, and Ctrl+C / SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from .display import display_problem

EXIT_OK, EXIT_UNUSABLE = 0, 2


def apply_theme(app: Any) -> None:
    """A dark Fusion theme: video reads better on dark surroundings, and it looks the same on
    every platform."""
    from PyQt6.QtGui import QColor, QPalette
    from PyQt6.QtWidgets import QStyleFactory

    app.setStyle(QStyleFactory.create("Fusion"))
    p = QPalette()
    role = QPalette.ColorRole
    for r, c in ((role.Window, (37, 38, 41)), (role.WindowText, (225, 225, 228)),
                 (role.Base, (27, 28, 31)), (role.AlternateBase, (44, 45, 49)),
                 (role.ToolTipBase, (50, 50, 55)), (role.ToolTipText, (235, 235, 235)),
                 (role.Text, (225, 225, 228)), (role.Button, (50, 51, 56)),
                 (role.ButtonText, (230, 230, 233)), (role.BrightText, (255, 90, 90)),
                 (role.Highlight, (79, 140, 255)), (role.HighlightedText, (255, 255, 255)),
                 (role.Link, (110, 165, 255)), (role.PlaceholderText, (130, 130, 135))):
        p.setColor(r, QColor(*c))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(disabled, r, QColor(120, 120, 125))
    app.setPalette(p)


def install_stop_signals(stop: Callable[[], None]) -> Callable[[], None]:
    """Ctrl+C and SIGTERM close the window cleanly. Python runs signal handlers only between
    bytecodes, which never happens while Qt's loop waits in C++, so a timer wakes the
    interpreter a few times a second. Returns a function that restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    from PyQt6.QtCore import QTimer

    waker = QTimer()
    waker.timeout.connect(lambda: None)
    waker.start(200)

    def handler(signum: int, frame: Any) -> None:
        QTimer.singleShot(0, stop)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        waker.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def run_app(args: argparse.Namespace) -> int:
    """`deepfake-monitor app`: returns the exit code."""
    problem = display_problem()
    if problem:
        print(f"deepfake-monitor: error: cannot open the app window: {problem}",
              file=sys.stderr)
        return EXIT_UNUSABLE

    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from ..model.backend import parse_providers
    from .window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "deepfake-monitor"])
    assert isinstance(app, QApplication)
    app.setApplicationName("deepfake-monitor")
    app.setOrganizationName("deepfake-monitor")
    apply_theme(app)
    settings = QSettings(args.settings, QSettings.Format.IniFormat) \
        if getattr(args, "settings", None) else None
    window = MainWindow(args.sources, model=args.model, threshold=args.threshold,
                        providers=parse_providers(args.providers), detector=args.detector,
                        min_face_score=args.min_face_score, settings=settings,
                        uncertain_band=args.uncertain_band)
    window.show()

    def stop() -> None:
        window.close()
        app.closeAllWindows()  # dialogs too, so that their own loops return
        app.quit()

    app.aboutToQuit.connect(window.shutdown)
    restore = install_stop_signals(stop)
    try:
        app.exec()
    finally:
        restore()
        window.shutdown()
    return EXIT_OK
