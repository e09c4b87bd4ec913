"""The runtime's commands, one module each (scan, watch, bench), and what they share: the engine
they load (engine) and exit codes and signal handling (signals). The parser and `main` are
realtime/cli.py; the work itself is done by realtime/scan.py, realtime/watch.py and the stages."""
