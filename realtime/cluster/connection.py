"""Joining a Ray cluster as a driver (`--cluster`), in a bounded time and in our own words.

Left to itself, ray.init retries an address where nothing listens for half a minute (Ray
Client) or minutes (a stale GCS address found by 'auto'), prints Ray's own warnings, and
answers a missing cluster with advice about flags of Ray's CLI. Here every address, including
the one 'auto' finds, is first tried with one TCP connection of at most CONNECT_TIMEOUT_S, and
what goes wrong is one line that names this program's options.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import socket
import threading
import warnings
from typing import Any
from urllib.parse import urlsplit

from ..errors import UserError

CONNECT_TIMEOUT_S = 5.0  # a cluster address that does not answer this soon is refused
RAY_MISSING = ("{what} needs Ray, which is not installed: "
               "pip install 'deepfake-monitor[cluster]'")
NO_CLUSTER = ("--cluster auto: no Ray cluster found on this machine (no node started here with "
              "'ray start', and RAY_ADDRESS is not set); give the head as --cluster HOST:PORT "
              "or ray://HOST:PORT, or start one (on one machine: "
              "python -m deepfake_monitor.realtime.local_ray start)")


def require_ray(what: str = "--cluster") -> None:
    """The one-line install hint where Ray is missing, without importing it."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except ImportError:
        found = False
    if not found:
        raise UserError(RAY_MISSING.format(what=what))


def import_ray(what: str = "--cluster") -> Any:
    """Ray, or the one-line error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING.format(what=what)) from None
    return ray


def auto_address() -> str:
    """The address --cluster auto stands for, as ray.init finds it: RAY_ADDRESS, else the
    cluster this machine's last `ray start` joined, else a GCS running here; a UserError
    where there is none. 'auto' itself where this Ray version cannot be asked."""
    try:
        from ray._private.services import get_ray_address_from_environment
    except ImportError:  # another Ray layout: ray.init looks for itself, unbounded
        return "auto"
    try:
        found = get_ray_address_from_environment("auto", None)
    except ConnectionError:
        raise UserError(NO_CLUSTER) from None
    return str(found or "auto")


def host_port(address: str) -> tuple[str, int] | None:
    """HOST, PORT of 'HOST:PORT' or 'ray://HOST:PORT'; None for another form."""
    if "://" in address:
        parts = urlsplit(address)
        try:
            port = parts.port
        except ValueError:
            return None
        return (parts.hostname, port) if parts.hostname and port else None
    host, _, port_text = address.rpartition(":")
    return (host.strip("[]"), int(port_text)) if host and port_text.isdigit() else None


def probe(address: str, *, found_by_auto: bool = False) -> None:
    """Refuse in one line, within CONNECT_TIMEOUT_S, an address where nothing listens."""
    from ..sources.credentials import mask_credentials

    shown = mask_credentials(address)
    option = "--cluster auto" if found_by_auto else f"--cluster {shown}"
    target = host_port(address)
    if target is None:
        raise UserError(f"{option}: expected HOST:PORT of the cluster's head, "
                        "ray://HOST:PORT (Ray Client) or 'auto'")
    try:
        with socket.create_connection(target, timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        found = f" found {shown} (RAY_ADDRESS or this machine's last 'ray start'), but" \
            if found_by_auto else ""
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise UserError(f"{option}:{found} no Ray cluster reachable there within "
                        f"{CONNECT_TIMEOUT_S:g} s ({reason})") from None


def connect(address: str, verbose: int = 0) -> Any:
    """The `ray` module, connected as a driver to the cluster at `address`."""
    from ..sources.credentials import mask_credentials

    ray = import_ray()
    option = f"--cluster {mask_credentials(address)}"
    if address == "auto":
        found = auto_address()
        if found != "auto":
            probe(found, found_by_auto=True)
    else:
        probe(address)
    # ray.init makes SIGTERM exit at once; the command's own handling (scan: stop and report
    # what finished, like Ctrl+C) must stay
    on_term = signal.getsignal(signal.SIGTERM) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        with warnings.catch_warnings():  # Ray's own advice; our error says what failed
            warnings.filterwarnings("ignore", category=UserWarning, module=r"ray(\.|$)")
            ray.init(address=address, log_to_driver=verbose > 0,
                     logging_level=logging.INFO if verbose else logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{option}: cannot connect: {mask_credentials(first)}") from None
    finally:
        if on_term is not None:
            signal.signal(signal.SIGTERM, on_term)
    return ray


def disconnect(ray: Any) -> None:
    if ray.is_initialized():
        ray.shutdown()

