"""Credentials in stream URLs never reach an output, whatever characters the password holds and
wherever the URL carries it (userinfo with unencoded "#", "/", "?", "@"; query keys).

The sources' own tests cover status events and log lines against a real RTSP server
(tests/test_sources.py), the app its tiles and settings (tests/test_app.py), `watch` its status
lines and events (tests/test_cli_watch.py); here: `scan`'s error lines and reports, and the
logging filter every command installs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import _MaskingFilter, main
from deepfake_monitor.realtime.sources import mask_credentials

SECRETS = ("p#ss/w?rd@x", "s3cr3t-Q", "hunter2")
URLS = (
    f"rtsp://viewer:{SECRETS[0]}@127.0.0.1:9/cam",
    f"rtsp://127.0.0.1:9/cam?user=viewer&password={SECRETS[1]}",
    f"http://127.0.0.1:9/live.m3u8?pwd={SECRETS[2]}#transport=tcp",
)


def leaks(text: str) -> list[str]:
    pieces = {s for secret in SECRETS for s in (secret, *secret.split("#"), "viewer")
              if len(s) >= 3}
    return [p for p in pieces if p in text]


def test_scan_names_url_inputs_masked_in_its_errors_and_reports(
    tmp_path: Path, astronaut_bgr: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    model = build_redness_model(tmp_path / "redness.onnx")
    clip = write_clip(tmp_path / "clip.mp4", astronaut_frames(astronaut_bgr, n=10))
    report, timeline = tmp_path / "r.json", tmp_path / "t.csv"
    code = main(["scan", str(clip), *URLS, "--model", str(model), "--json", str(report),
                 "--csv", str(timeline)])
    out, err = capsys.readouterr()
    assert code == 1, err  # the clip was analysed, the URLs are no files
    assert err.count("no such file or folder") == len(URLS)
    assert "rtsp://***@127.0.0.1:9/cam" in err and "password=***" in err and "pwd=***" in err
    data = json.loads(report.read_text())
    assert sorted(v["status"] for v in data["videos"]) == ["error"] * len(URLS) + ["ok"]
    assert {v["path"] for v in data["videos"]} >= {mask_credentials(u) for u in URLS}
    for text in (out, err, report.read_text(), timeline.read_text()):
        assert not leaks(text), text


def test_every_log_line_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    """The filter the commands put on their log handler masks what any library logs."""
    record = logging.LogRecord("av", logging.WARNING, __file__, 1, "cannot open %s: %s", (
        URLS[0], f"'{URLS[1]}' returned 22"), None)
    assert _MaskingFilter().filter(record)
    message = record.getMessage()
    assert message == ("cannot open rtsp://***@127.0.0.1:9/cam: 'rtsp://127.0.0.1:9/cam"
                       "?user=***&password=***' returned 22")
    assert not leaks(message)


@pytest.mark.parametrize("url", URLS)
def test_masking_keeps_the_rest_of_the_url(url: str) -> None:
    masked = mask_credentials(url)
    assert not leaks(masked)
    assert masked.startswith(url.split("://")[0] + "://")
    assert "127.0.0.1:9" in masked
