"""Can a window be opened here? Asked before QApplication exists, because Qt aborts the whole
process (no exception to catch) when its platform plugin cannot start."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path

# Platforms that need no display server: trust them (tests use "offscreen").
_HEADLESS = {"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"}


def display_problem() -> str | None:
    """Why no window can be opened, in one line; None when it can (or we cannot tell)."""
    if sys.platform in ("darwin", "win32"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip().lower()
    if platform in _HEADLESS:
        return None
    if platform.startswith("wayland") or (not platform and os.environ.get("WAYLAND_DISPLAY")):
        return None if os.environ.get("WAYLAND_DISPLAY") else \
            "no Wayland display (WAYLAND_DISPLAY is not set)"
    display = os.environ.get("DISPLAY", "")
    if not display:
        return ("no display (DISPLAY is not set): run it in a desktop session, or use "
                "'deepfake-monitor watch' on a machine without one")
    return _x11_problem(display) or _xcb_plugin_problem()


def _x11_problem(display: str) -> str | None:
    name = ctypes.util.find_library("xcb") or "libxcb.so.1"
    try:
        xcb = ctypes.CDLL(name)
    except OSError:
        return "cannot load libxcb, which Qt needs to open a window on X11 (install libxcb1)"
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        if not conn or xcb.xcb_connection_has_error(conn):
            return f"cannot connect to the X display {display!r}"
    finally:
        if conn:
            xcb.xcb_disconnect(conn)
    return None


def _xcb_plugin_problem() -> str | None:
    """Qt's X11 plugin needs libraries a minimal system may lack; name the missing one."""
    try:
        from PyQt6.QtCore import QLibraryInfo
    except ImportError as exc:
        return f"PyQt6 cannot be imported: {exc}"
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    plugin = plugins / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return None  # a Qt build laid out differently: let Qt itself decide
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        reason = str(exc).removeprefix(f"{plugin}: ")  # names the missing library
        return (f"Qt's X11 platform plugin cannot be loaded ({reason}); install the X11 "
                "client libraries Qt needs (on Debian/Ubuntu: libxcb-cursor0 libxcb-icccm4 "
                "libxcb-keysyms1 libxkbcommon-x11-0)")
    return None
