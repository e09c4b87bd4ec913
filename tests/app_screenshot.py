"""Run the real app window under Xvfb on clips from ../shared/media/videos and save a screenshot.

    python tests/app_screenshot.py [--out app-screenshot.png] [--clip PATH ...] [--model PATH]

It starts its own Xvfb (1600x900, a free display picked with -displayfd), opens the window on the
X11 platform exactly as `deepfake-monitor app` does, waits until faces are drawn and their
meters and plots have data, and saves what the X server shows as PNG. The model is the bundled
classifier where it exists, else the tests' tiny redness model (`--model` picks another).
With --pick-region it then also drives the "Screen / window region" picker like a user (drags
over the first tile's video) and waits for that screen capture to play in a tile of its own.
Settings go to a temporary file, never to the user's. Exit status: 0 saved, 1 failed,
3 cannot run here (no Xvfb, no media, no X11 libraries for Qt).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run as a script: the tests folder's helpers

from xdisplay import start_xvfb, stop_xvfb  # noqa: E402

VIDEOS = HERE.parent.parent / "shared" / "media" / "videos"
DEFAULT_CLIPS = ("liveportrait-source-s18.mp4", "liveportrait-driving-d10.mp4")
SCREEN = (1600, 900)


def pick_model(requested: str | None, workdir: Path) -> str | None:
    if requested:
        return requested
    from deepfake_monitor.realtime.model.classifier import default_model_path

    if default_model_path().is_file():
        return None  # the bundled classifier
    sys.path.insert(0, str(HERE))
    from tiny_models import build_redness_model

    return str(build_redness_model(workdir / "redness.onnx"))


def wait(app: object, predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)


def pick_region(app: object, window: object, timeout_s: float) -> None:
    """Drag over the first tile's video in the region picker, as a user would."""
    from PyQt6.QtCore import QPoint, Qt
    from PyQt6.QtTest import QTest

    view = window.tiles[0].view  # type: ignore[attr-defined]
    rect = view.image_rect().toRect()
    start = view.mapToGlobal(rect.topLeft()) + QPoint(4, 4)
    end = view.mapToGlobal(rect.bottomRight()) - QPoint(4, 4)
    count = len(window.tiles)  # type: ignore[attr-defined]
    window.pick_region()  # type: ignore[attr-defined]
    wait(app, lambda: window._picker is not None and window._picker.isVisible(),  # type: ignore[attr-defined]
         timeout_s, "the region picker")
    picker = window._picker  # type: ignore[attr-defined]
    origin = picker.geometry().topLeft()
    QTest.mousePress(picker, Qt.MouseButton.LeftButton, pos=start - origin)
    QTest.mouseMove(picker, end - origin)
    QTest.mouseRelease(picker, Qt.MouseButton.LeftButton, pos=end - origin)
    wait(app, lambda: len(window.tiles) == count + 1  # type: ignore[attr-defined]
         and window.tiles[-1].view.frames_shown > 10, timeout_s,  # type: ignore[attr-defined]
         "the screen region to play in its tile")
    title = window.tiles[-1].title.full_text  # type: ignore[attr-defined]
    if not title.startswith("screen:"):
        raise RuntimeError(f"the picked region opened {title!r}")


def take_screenshot(clips: list[Path], out: Path, model: str | None, workdir: Path,
                    timeout_s: float, region: bool = False) -> None:
    from PyQt6.QtCore import QSettings
    from PyQt6.QtGui import QGuiApplication
    from PyQt6.QtWidgets import QApplication

    from deepfake_monitor.realtime.app.main import apply_theme
    from deepfake_monitor.realtime.app.window import MainWindow

    app = QApplication([sys.argv[0]])
    apply_theme(app)
    settings = QSettings(str(workdir / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow([str(c) for c in clips], model=model, settings=settings,
                        open_default_webcam=False)
    window.setGeometry(0, 0, *SCREEN)
    window.show()
    try:
        deadline = time.monotonic() + timeout_s
        faces_since: float | None = None
        while time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.02)
            ready = all(t.faces and t.view.frames_shown > 20 for t in window.tiles) \
                and window.face_panels
            if ready and faces_since is None:
                faces_since = time.monotonic()
            if faces_since is not None and time.monotonic() - faces_since > 2.5:
                break  # the plots have a few seconds of history
        else:
            states = [(t.name, t.pill.status, t.faces, t.error_text) for t in window.tiles]
            raise TimeoutError(f"no faces drawn within {timeout_s:g} s: {states}")
        if region:
            pick_region(app, window, timeout_s)
        screen = QGuiApplication.primaryScreen()
        assert screen is not None
        shot = screen.grabWindow(0)  # what the X server shows, window decorations and all
        out.parent.mkdir(parents=True, exist_ok=True)
        if not shot.save(str(out), "PNG"):
            raise OSError(f"cannot write {out}")
    finally:
        window.close()
        app.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("app-screenshot.png"))
    parser.add_argument("--clip", type=Path, action="append",
                        help="a video to open (repeatable; default: two clips from "
                             f"{VIDEOS})")
    parser.add_argument("--model", help="classifier ONNX (default: bundled, else a test model)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--pick-region", action="store_true",
                        help="also pick a screen region with the picker and monitor it")
    args = parser.parse_args()

    clips = args.clip or [VIDEOS / name for name in DEFAULT_CLIPS if (VIDEOS / name).is_file()]
    if not clips:
        print(f"app_screenshot: {VIDEOS} is absent", file=sys.stderr)
        return 3
    try:
        xvfb, display, xvfb_fd = start_xvfb(*SCREEN)
    except LookupError as exc:
        print(f"app_screenshot: {exc}", file=sys.stderr)
        return 3
    os.environ["DISPLAY"] = display
    os.environ.pop("QT_QPA_PLATFORM", None)
    os.environ.pop("WAYLAND_DISPLAY", None)
    try:
        from deepfake_monitor.realtime.app.display import display_problem

        problem = display_problem()
        if problem:
            print(f"app_screenshot: {problem}", file=sys.stderr)
            return 3
        with tempfile.TemporaryDirectory(prefix="app-screenshot-") as tmp:
            workdir = Path(tmp)
            take_screenshot(clips, args.out, pick_model(args.model, workdir), workdir,
                            args.timeout, region=args.pick_region)
    except Exception as exc:
        print(f"app_screenshot: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_xvfb(xvfb, xvfb_fd)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
