"""`uv lock` in one project, as the scaffolder and the upgrade run it (UV names the binary)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def lock(project: Path, timeout: float = 900) -> str | None:
    """Lock `project`; None when it worked, else what went wrong. The caller's own
    virtualenv (make test's, say) is not handed to uv."""
    uv = os.environ.get("UV", "uv")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}}
    try:
        proc = subprocess.run([uv, "lock", "--no-progress"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`uv lock` could not run: {exc}"
    return None if proc.returncode == 0 else f"`uv lock` failed in {project}:\n{proc.stderr.strip()[-3000:]}"
