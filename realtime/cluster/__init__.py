"""`scan --cluster` and `watch --cluster`: the same commands and outputs, the work spread over the
workers of a running Ray cluster.

scan: one `ScanWorker` actor per worker (one per node by default, or one per GPU share with
--gpus-per-worker) loads the detector and classifier once and analyses file after file with the
same `scan_file` a local scan runs. The driver hands files out, two in flight per worker so that
none waits for a round trip, and writes the reports in input order, exactly as a local scan
does. A worker that dies (its process, or its whole node) gives its files back to the queue for
another worker; a file whose workers died MAX_ATTEMPTS times is reported as an error rather
than crashing workers forever. A file that fails for its own reasons (unreadable, no video) is
reported once with status error, as locally: `scan_file` puts every such problem in the report.

watch: one `WatchWorker` actor per source runs the usual analyzer for it; the driver polls every
worker for new events, prints the status line and the alerts, and writes the one --events file.
A dead worker's source is started again on another node, with `disconnected` and `reconnected`
events.

Ray is imported in this package alone, and only under --cluster, so the runtime install does
not need it. Inputs, --model and --annotate must be on storage every node sees under the same path.

Modules: connection (joining a cluster as a driver), workers (what scan's and watch's workers
share), scan, watch, and local_ray (a local multi-node cluster for tests and the bench).
"""
