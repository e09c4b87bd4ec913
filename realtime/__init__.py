"""Runtime of deepfake-monitor: sources, faces, classifier, pipeline, overlays, CLI.

Never imports TensorFlow: the runtime installs without it.
"""

from __future__ import annotations

__version__ = "0.1.0"
