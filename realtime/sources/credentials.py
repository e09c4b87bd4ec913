"""Credentials in source URLs: masked wherever a source is named, percent-encoded where FFmpeg
needs them.

A password may hold any character (a blank, a quote, "#", "/", "?", "@"), so a URL is masked
from the source as it was given (`mask_url`: the whole string is the URL), never by guessing
where a URL in free text ends. Every stream URL a source is made from is remembered
(`remember_url`), and `mask_credentials` replaces those exact secrets, in every form they can
take in a message (as given, percent-encoded, decoded), in any text: FFmpeg's errors, log
lines, events. Only then does it mask the URLs in the text that no source named (a `--cluster`
address), as far as they run without a blank.

Secret query (or fragment) values: any key that contains `pass`, `pwd`, `token`, `secret`,
`sig`, `auth`, `key`, `cred`, `user` or `login`, in any case (`X-Amz-Signature=`,
`Authorization=`, `passwort=`).
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, unquote

SECRET_KEY_PARTS = ("pass", "pwd", "token", "secret", "sig", "auth", "key", "cred", "user",
                    "login")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A URL in free text runs from its scheme to the next blank or quote (only for URLs no source
# named: those are masked from their known secrets first).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*")
# host[:port] after the userinfo's "@" (a password may hold "#", "/", "?" or "@" unencoded)
_HOST_PORT = re.compile(r"(?:\[[0-9A-Za-z:.%]*\]|[A-Za-z0-9._~%-]*)(?::[0-9]*)?[.,;:!)\]]*$")
# a secret key=value pair in a query or fragment: the value runs to the next "&"
_SECRET_PARAM = re.compile(r"(?i)(?P<key>[?&;#][\w.~%+-]*?(?:" + "|".join(SECRET_KEY_PARTS)
                           + r")[\w.~%+-]*=)(?P<value>[^&]*)")
_USERINFO_SAFE = "!$&'()*+,;=:%"  # unreserved characters and these stay as they are
MASK = "***"
_MAX_REMEMBERED = 4096

_lock = threading.Lock()
_known: dict[str, str] = {}  # a secret as it may appear in text -> what replaces it


def is_secret_key(key: str) -> bool:
    """Whether a query key names a credential (see the module's docstring)."""
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """(scheme://, userinfo or None, the rest) of one URL, the whole string, the userinfo found
    by the last "@" that a host follows, so that "rtsp://u:p#w/x?@cam/live" has userinfo
    "u:p#w/x?" (and "rtsp://u:my secret@cam" has "u:my secret")."""
    match = _SCHEME.match(url)
    if not match:
        return "", None, url
    scheme, rest = match.group(0), url[match.end():]
    at = len(rest)
    while (at := rest.rfind("@", 0, at)) >= 0:
        host = re.split(r"[/?#]", rest[at + 1:], maxsplit=1)[0]
        if _HOST_PORT.match(host):
            return scheme, rest[:at], rest[at + 1:]
    return scheme, None, rest


def quote_userinfo(url: str) -> str:
    """`url` with the userinfo's "#", "/", "?", "@", blanks, quotes (and other reserved
    characters) percent-encoded, as FFmpeg needs them; already-encoded "%XX" stays."""
    scheme, userinfo, rest = split_userinfo(url)
    if not userinfo:
        return url
    return f"{scheme}{_quote(userinfo)}@{rest}"


def _quote(userinfo: str) -> str:
    return quote(re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", userinfo), safe=_USERINFO_SAFE)


def mask_url(url: str) -> str:
    """One URL (the whole string) with its userinfo and secret query values as "***":
    "rtsp://u:my secret@cam/x?sig=1" -> "rtsp://***@cam/x?sig=***". Text that is no URL
    comes back as it is."""
    scheme, userinfo, rest = split_userinfo(url)
    if not scheme:
        return url
    rest = _SECRET_PARAM.sub(rf"\g<key>{MASK}", rest)
    return f"{scheme}{MASK}@{rest}" if userinfo is not None else f"{scheme}{rest}"


def remember_url(url: str) -> str:
    """`mask_url(url)`, its secrets remembered for `mask_credentials`, in every form a message
    may quote them: as given, percent-encoded (as FFmpeg gets them) and decoded."""
    scheme, userinfo, rest = split_userinfo(url.strip())
    if not scheme:
        return url
    found: dict[str, str] = {}
    if userinfo:
        for form in {userinfo, _quote(userinfo), unquote(userinfo)}:
            found[f"{form}@"] = f"{MASK}@"
    for match in _SECRET_PARAM.finditer(rest):
        key, value = match.group("key")[1:], match.group("value")
        for form in {value, value.split("#")[0], unquote(value), quote(unquote(value))}:
            if form:
                found[f"{key}{form}"] = f"{key}{MASK}"
    if found:
        with _lock:
            if len(_known) + len(found) > _MAX_REMEMBERED:
                _known.clear()
            _known.update(found)
    return mask_url(url)


def mask_source(text: str) -> str:
    """A source as the user gave it, safe to show: a URL masked as one whole URL (and
    remembered), anything else as `mask_credentials` leaves it."""
    stripped = text.strip()
    if _SCHEME.match(stripped):
        return remember_url(stripped)
    return mask_credentials(text)


def mask_credentials(text: str) -> str:
    """`text` with every remembered secret masked, then every URL in it as `mask_url` masks
    it: "lost rtsp://u:p#w@cam/x?password=pw, retrying" -> "lost rtsp://***@cam/x?password=***,
    retrying"."""
    with _lock:
        known = sorted(_known.items(), key=lambda item: -len(item[0]))
    for clear, masked in known:
        if clear in text:
            text = text.replace(clear, masked)
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
