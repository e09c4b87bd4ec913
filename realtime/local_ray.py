"""`python -m deepfake_monitor.realtime.local_ray start|stop`: a Ray cluster on this machine to
try `--cluster` with (README, "Trying --cluster on one machine"). Only the command lives here,
beside the other commands; the cluster itself is realtime/cluster/local_ray.py."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from .cluster.local_ray import main

    sys.exit(main())
