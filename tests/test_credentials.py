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
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main
from deepfake_monitor.realtime.log_setup import MaskingFilter
from deepfake_monitor.realtime.sources.credentials import mask_credentials, mask_source

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
    assert MaskingFilter().filter(record)
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


# Passwords FFmpeg takes percent-encoded (quote_userinfo) that a regex over text cannot tell
# from the end of a URL, and query keys that name secrets without being the usual few.
ODD_SECRETS = ("my secret", 'pa"ss1', "it's-2", "a<b>c3", "tab\there4")
ODD_URLS = tuple(f"rtsp://admin:{s}@127.0.0.1:9/cam{n}" for n, s in enumerate(ODD_SECRETS))
QUERY_URL = ("https://127.0.0.1:9/v.m3u8?sig=SIGVAL1&X-Amz-Signature=AMZVAL2"
             "&Authorization=AUTHVAL3&passwort=PWTVAL4&ch=1")
QUERY_SECRETS = ("SIGVAL1", "AMZVAL2", "AUTHVAL3", "PWTVAL4")


def odd_leaks(text: str) -> list[str]:
    forms = {f for s in ODD_SECRETS + QUERY_SECRETS for f in (s, quote(s, safe=""))}
    return sorted(f for f in forms if f in text)


def test_watch_masks_passwords_with_blanks_quotes_and_odd_query_keys(
    tmp_path: Path
) -> None:
    """The issue's run, as a process: `watch --events` on cameras that are down, whose passwords
    hold a blank, quotes, "<", ">" or a tab; nothing of them in the events or on stderr."""
    model = build_redness_model(tmp_path / "redness.onnx")
    events = tmp_path / "ev.jsonl"
    exe = Path(sys.executable).with_name("deepfake-monitor")
    run = subprocess.run([str(exe), "watch", "--events", str(events), *ODD_URLS, QUERY_URL,
                          "--model", str(model), "--duration", "2"],
                         capture_output=True, text=True, timeout=120)
    text = events.read_text()
    assert run.returncode == 0, run.stderr
    assert not odd_leaks(text), text
    assert not odd_leaks(run.stderr + run.stdout), run.stderr
    sources = {json.loads(line)["source"] for line in text.splitlines()}
    assert sources == {f"rtsp://***@127.0.0.1:9/cam{n}" for n in range(len(ODD_SECRETS))} | {
        "https://127.0.0.1:9/v.m3u8?sig=***&X-Amz-Signature=***&Authorization=***"
        "&passwort=***&ch=1"}
    assert "rtsp://***@127.0.0.1:9/cam0: disconnected: cannot open stream" in run.stderr


def test_masking_a_url_in_text_that_no_source_named_uses_the_broader_key_rule() -> None:
    text = mask_credentials("GET https://h/x?X-Amz-Credential=AK&Sig=S1&api-KEY=K2&q=1 failed")
    assert text == "GET https://h/x?X-Amz-Credential=***&Sig=***&api-KEY=***&q=1 failed"


def test_a_source_is_masked_as_one_whole_url_and_its_secrets_wherever_quoted() -> None:
    url = "rtsp://admin:my secret@127.0.0.1:9/cam?token=T 1"
    assert mask_source(url) == "rtsp://***@127.0.0.1:9/cam?token=***"
    # FFmpeg's message quotes the URL percent-encoded; a log line may quote it as given
    message = f"'rtsp://admin:my%20secret@127.0.0.1:9/cam?token=T%201': refused; {url}"
    assert mask_credentials(message) == ("'rtsp://***@127.0.0.1:9/cam?token=***': refused; "
                                         "rtsp://***@127.0.0.1:9/cam?token=***")
