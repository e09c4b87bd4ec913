"""What the app remembers between runs (QSettings): sources, threshold, model, window layout.

Credentials: a stream URL's user and password reach the settings file only when the user ticked
"remember credentials" for it (the file is plain text, readable by its owner only: 0600).
Otherwise the URL is stored masked, as one whole URL whatever its password holds
(`rtsp://***@cam/live`), which the app recognises when it is picked again and asks for them.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from urllib.parse import unquote

from PyQt6.QtCore import QByteArray, QSettings

from ..sources.credentials import mask_source, split_userinfo

ORGANISATION = "deepfake-monitor"
APPLICATION = "deepfake-monitor"
MAX_RECENT = 10


def default_qsettings() -> QSettings:
    """The user's settings (~/.config/deepfake-monitor/deepfake-monitor.conf on Linux)."""
    return QSettings(ORGANISATION, APPLICATION)


def has_credentials(text: str) -> bool:
    """Whether `text` is a URL with a user, password or secret query value in it (masked ones
    included)."""
    text = text.strip()
    return split_userinfo(text)[1] is not None or mask_source(text) != text or \
        needs_credentials(text)


def needs_credentials(text: str) -> bool:
    """A URL stored masked: its credentials were not remembered and must be asked for."""
    text = text.strip()
    scheme, userinfo, rest = split_userinfo(text)
    return bool(scheme) and (userinfo == "***" or "=***" in rest)


def storable_source(text: str, remember_credentials: bool = False) -> str:
    """How a source is written to the settings: as given, or masked unless remembered."""
    return text if remember_credentials else mask_source(text)


def without_credentials(url: str) -> tuple[str, str, str]:
    """Split a URL into (URL without userinfo, user, password); empty strings where absent."""
    scheme, userinfo, rest = split_userinfo(url.strip())
    if userinfo is None:
        return url.strip(), "", ""
    user, _, password = userinfo.partition(":")
    if userinfo == "***":
        user, password = "", ""
    return f"{scheme}{rest}", unquote(user), unquote(password)


def add_recent(items: list[str], text: str, limit: int = MAX_RECENT) -> list[str]:
    """`text` first, without duplicates (a masked and a full form of one URL count as one)."""
    key = mask_source(text)
    others = [i for i in items if mask_source(i) != key]
    return [text, *others[: limit - 1]]


@dataclass
class AppSettings:
    threshold: float | None = None
    alert_after_s: float = 1.0
    model_path: str = ""  # "" = the bundled default
    recent_models: list[str] = field(default_factory=list)
    recent_sources: list[str] = field(default_factory=list)
    last_sources: list[str] = field(default_factory=list)
    sound: bool = False
    snapshot_dir: str = ""
    geometry: QByteArray | None = None
    window_state: QByteArray | None = None
    splitter_state: QByteArray | None = None

    @classmethod
    def load(cls, qs: QSettings) -> AppSettings:
        s = cls()
        raw = qs.value("analysis/threshold", None)
        try:
            s.threshold = None if raw in (None, "") else min(1.0, max(0.0, float(raw)))
        except (TypeError, ValueError):
            s.threshold = None
        s.alert_after_s = _float(qs.value("analysis/alert_after_s", 1.0), 1.0)
        s.model_path = str(qs.value("model/path", "") or "")
        s.recent_models = _list(qs.value("model/recent", "[]"))
        s.recent_sources = _list(qs.value("sources/recent", "[]"))
        s.last_sources = _list(qs.value("sources/last", "[]"))
        s.sound = str(qs.value("alerts/sound", "false")).lower() in ("true", "1")
        s.snapshot_dir = str(qs.value("output/snapshot_dir", "") or "")
        s.geometry = _bytes(qs.value("window/geometry"))
        s.window_state = _bytes(qs.value("window/state"))
        s.splitter_state = _bytes(qs.value("window/splitter"))
        return s

    def save(self, qs: QSettings) -> None:
        """Into `qs`, whose file (remembered credentials may be in it) only its owner reads."""
        owner_only(qs)
        if self.threshold is not None:
            qs.setValue("analysis/threshold", float(self.threshold))
        else:
            qs.remove("analysis/threshold")  # follow the model's own threshold
        qs.setValue("analysis/alert_after_s", float(self.alert_after_s))
        qs.setValue("model/path", self.model_path)
        # Lists as JSON: QSettings turns a one-element list into a plain string in INI files.
        qs.setValue("model/recent", json.dumps(self.recent_models[:MAX_RECENT]))
        qs.setValue("sources/recent", json.dumps(self.recent_sources[:MAX_RECENT]))
        qs.setValue("sources/last", json.dumps(self.last_sources))
        qs.setValue("alerts/sound", bool(self.sound))
        qs.setValue("output/snapshot_dir", self.snapshot_dir)
        for key, value in (("window/geometry", self.geometry), ("window/state", self.window_state),
                           ("window/splitter", self.splitter_state)):
            if value is not None:
                qs.setValue(key, value)
        qs.sync()
        owner_only(qs)


def owner_only(qs: QSettings) -> None:
    """The settings file made, or kept, readable and writable by its owner only (0600): Qt
    makes it 0644, and then keeps the mode of the file it replaces."""
    if qs.format() not in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat) or \
            not os.path.isabs(qs.fileName()):
        return
    path = qs.fileName()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        if stat.S_IMODE(os.lstat(path).st_mode) & 0o077 and not os.path.islink(path):
            os.chmod(path, 0o600)


def _float(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _list(value: object) -> list[str]:
    try:
        data = json.loads(str(value))
    except (TypeError, ValueError):
        return []
    return [str(v) for v in data] if isinstance(data, list) else []


def _bytes(value: object) -> QByteArray | None:
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None
