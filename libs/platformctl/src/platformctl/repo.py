"""Where the repository is: PLATFORM_ROOT (the Makefile sets it), else the
nearest folder upwards from the working directory that holds dg.toml."""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_FILE = "dg.toml"


def root() -> Path:
    if os.environ.get("PLATFORM_ROOT"):
        return Path(os.environ["PLATFORM_ROOT"]).resolve()
    here = Path.cwd().resolve()
    return next((p for p in (here, *here.parents) if (p / WORKSPACE_FILE).is_file()), here)
