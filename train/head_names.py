"""The classifier heads' names (train/heads.py builds them), importable without Keras: the
command-line parsers offer them as choices and must stay cheap to build."""

from __future__ import annotations

HEADS = ("pooled", "multilayer", "patch")
