"""A real Ray cluster of several nodes on this machine, on 127.0.0.1 only: for tests and `bench`.

Each node is started with Ray's own `ray start` (head with `--head`, the others with
`--address`), so the processes are the ones a real cluster runs: a GCS, a raylet per node, the
agents, worker processes. Two things differ from a plain `ray start`, both to keep every socket
on the loopback interface: Ray turns 127.0.0.1 into the machine's outside address before
starting or joining a cluster (it expects nodes on other machines), so the `ray start` here
runs with that one lookup left as given; and drivers connecting to it need
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` (see `driver_env`) for the same reason. With 127.0.0.1 as
the node address Ray's servers listen on 127.0.0.1 alone; the dashboard stays off.

Every process of a cluster lives under its own temporary folder, so `stop` ends exactly those
(never another Ray on the machine), and `kill_node` can end one node's raylet as a crash would.

To try `--cluster` on one machine (README, "Trying --cluster on one machine"):
`python -m deepfake_monitor.realtime.local_ray start` starts one and prints how to use and stop
it; `... local_ray stop FOLDER` ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

LOOPBACK = "127.0.0.1"
# The driver's side of keeping 127.0.0.1: without it ray.init swaps the address for the
# machine's outside one, where nothing listens.
DRIVER_ENV: Mapping[str, str] = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                                 "RAY_USAGE_STATS_ENABLED": "0"}
# A killed node is declared dead after about 3 s instead of Ray's default ~30 s, so that tests
# of node failure do not wait half a minute (GCS settings, read from the head's environment).
FAST_FAILURE_DETECTION: Mapping[str, str] = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}

FOLDER_PREFIX = "dfm-ray-"  # every local cluster's folder, under /tmp

_RAY_START = """\
import sys
import ray._private.services as services
services.resolve_ip_for_localhost = lambda host: host  # keep 127.0.0.1 (see local_ray.py)
from ray.scripts.scripts import main
sys.argv = ["ray", *sys.argv[1:]]
main()
"""


def driver_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) plus what a driver of a loopback cluster
    needs."""
    env = dict(os.environ if base is None else base)
    env.update(DRIVER_ENV)
    return env


@dataclass
class LocalNode:
    index: int
    num_cpus: int
    raylet_pid: int
    node_id: str  # Ray's hex id, as ray.nodes() and the workers' reports name the node

    @property
    def alive(self) -> bool:
        return _alive(self.raylet_pid)


@dataclass
class LocalRayCluster:
    """Nodes on 127.0.0.1; `address` is what `scan --cluster` and `ray.init` take."""

    temp_dir: Path
    address: str = ""
    nodes: list[LocalNode] = field(default_factory=list)
    object_store_mb: int = 100
    fast_failure_detection: bool = True
    nice: int = 0

    @classmethod
    def start(cls, cpus_per_node: tuple[int, ...] = (1,), *, object_store_mb: int = 100,
              fast_failure_detection: bool = True, nice: int = 0) -> LocalRayCluster:
        """A head node and one more node per further entry of `cpus_per_node`; `nice`: the
        scheduling priority of every process of the cluster (0: as this process)."""
        if not cpus_per_node:
            raise ValueError("a cluster needs at least the head node")
        # Short: Ray's unix socket paths under it must stay below 108 bytes.
        temp_dir = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir="/tmp"))
        cluster = cls(temp_dir, object_store_mb=object_store_mb,
                      fast_failure_detection=fast_failure_detection, nice=nice)
        try:
            for cpus in cpus_per_node:
                cluster.add_node(cpus)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_node(self, num_cpus: int = 1, num_gpus: int = 0) -> LocalNode:
        """Start one more node (the first one is the head) and wait until it is up.
        `num_gpus`: GPUs the node offers Ray's scheduler, whether or not it has them (what is
        scheduled on them runs where ONNX Runtime finds a GPU, else on the CPU)."""
        before = set(self._raylets())
        args = ["start", "--node-ip-address", LOOPBACK, "--num-cpus", str(num_cpus),
                "--num-gpus", str(num_gpus), "--object-store-memory",
                str(self.object_store_mb * 1024 * 1024), "--disable-usage-stats",
                "--temp-dir", str(self.temp_dir)]
        env = driver_env()
        env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")  # `ray start --address` refuses it
        if not self.nodes:
            args += ["--head", "--port", "0", "--include-dashboard", "false",
                     "--ray-client-server-port", str(_free_port())]
            if self.fast_failure_detection:
                env.update(FAST_FAILURE_DETECTION)
        else:
            args += ["--address", self.address]
        command = [sys.executable, "-c", _RAY_START, *args]
        if self.nice:
            command = ["nice", "-n", str(self.nice), *command]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180,
                              check=False)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            raise UserError(f"ray start failed (exit {proc.returncode}): "
                            f"{lines[-1] if lines else 'no output'}")
        if not self.nodes:
            self.address = (self.temp_dir / "ray_current_cluster").read_text().strip()
        raylets = self._raylets()
        new = sorted(set(raylets) - before)
        if len(new) != 1:
            raise UserError(f"ray start: expected one new raylet, found {len(new)}")
        node = LocalNode(len(self.nodes), num_cpus, new[0], raylets[new[0]])
        self.nodes.append(node)
        return node

    @classmethod
    def attach(cls, folder: str | Path) -> LocalRayCluster:
        """The cluster `start` made in `folder` (printed by the command line), to stop it from
        another process; a UserError where the folder holds none."""
        temp_dir = Path(folder).resolve()
        address_file = temp_dir / "ray_current_cluster"
        if not temp_dir.name.startswith(FOLDER_PREFIX) or not address_file.is_file():
            raise UserError(f"{folder}: not the folder of a local cluster (a {FOLDER_PREFIX}* "
                            "folder that 'start' printed)")
        return cls(temp_dir, address=address_file.read_text().strip())

    def kill_node(self, node: LocalNode) -> None:
        """End a node as a crash would: SIGKILL to its raylet (its workers follow it)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.raylet_pid, signal.SIGKILL)

    def stop(self, timeout: float = 2.0) -> None:
        """End every process of this cluster, workers included, and remove its folder."""
        pids = self._processes()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5.0)
            while time.monotonic() < deadline and any(_alive(p) for p in pids):
                time.sleep(0.1)
            pids = [p for p in pids if _alive(p)]
            if not pids:
                break
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _raylets(self) -> dict[int, str]:
        """pid -> node id of this cluster's raylets."""
        marker = f"--temp_dir={self.temp_dir}".encode()
        found = {}
        for pid, args in _proc_table().items():
            if args and args[0].endswith(b"/raylet") and marker in args:
                ids = [a.split(b"=", 1)[1].decode() for a in args if a.startswith(b"--node_id=")]
                found[pid] = ids[0] if ids else ""
        return found

    def _processes(self) -> list[int]:
        """This cluster's processes: those naming its folder (or, as the Ray Client server
        does, its address), and all their descendants (workers and agents rename themselves
        'ray::...')."""
        table = _proc_table()
        markers = [str(self.temp_dir).encode()]
        if self.address:
            markers.append(f"--address={self.address}".encode())
        roots = {pid for pid, args in table.items()
                 if pid != os.getpid() and any(m in a for a in args for m in markers)}
        children: dict[int, list[int]] = {}
        for pid, parent in _parents().items():
            children.setdefault(parent, []).append(pid)
        found, todo = set(), list(roots)
        while todo:
            pid = todo.pop()
            if pid not in found and pid != os.getpid():
                found.add(pid)
                todo += children.get(pid, [])
        return sorted(found)


def _proc_table() -> dict[int, list[bytes]]:
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                table[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
    return table


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return parents


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has ended


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def main(argv: Sequence[str] | None = None) -> int:
    """`start` a loopback cluster that outlives this command, or `stop` one: for trying
    `--cluster` on one machine without a cluster of one's own."""
    parser = argparse.ArgumentParser(
        prog="python -m deepfake_monitor.realtime.local_ray",
        description="A Ray cluster on this machine, every socket on 127.0.0.1, to try "
                    "'--cluster' with (needs the cluster extra).")
    sub = parser.add_subparsers(dest="action", required=True)
    start = sub.add_parser("start", help="start a cluster; prints its address and how to stop it")
    start.add_argument("--nodes", type=int, default=2, help="nodes (default: %(default)s)")
    start.add_argument("--cpus-per-node", type=int, default=1,
                       help="CPUs each node offers Ray's scheduler; a scan worker takes one "
                            "(default: %(default)s)")
    stop = sub.add_parser("stop", help="end every process of a cluster 'start' made")
    stop.add_argument("folder", help="the folder 'start' printed")
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            LocalRayCluster.attach(args.folder).stop()
            print(f"stopped the cluster of {args.folder}")
            return 0
        if args.nodes < 1 or args.cpus_per_node < 1:
            parser.error("--nodes and --cpus-per-node must be at least 1")
        cluster = LocalRayCluster.start((args.cpus_per_node,) * args.nodes)
    except UserError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    env = " ".join(f"{k}={v}" for k, v in DRIVER_ENV.items())
    print(f"Ray cluster of {args.nodes} node(s) on {LOOPBACK}, address {cluster.address}\n"
          f"use it (the variables keep the driver on {LOOPBACK}):\n"
          f"  {env} deepfake-monitor scan VIDEO... --cluster {cluster.address}\n"
          f"stop it:\n  python -m deepfake_monitor.realtime.local_ray stop {cluster.temp_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
