"""`.env`, read and rewritten in place: comments, order and unknown lines are kept."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(ValueError):
    """A line that is not NAME=value; the message names the file and the line."""


class EnvFile:
    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.lines = lines

    @classmethod
    def read(cls, path: Path) -> EnvFile:
        text = path.read_text() if path.exists() else ""
        env = cls(path, text.splitlines())
        env.values()  # refuse a malformed file before anything relies on it
        return env

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for n, line in enumerate(self.lines, 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            name, sep, value = stripped.partition("=")
            if not sep or not NAME.fullmatch(name.strip()):
                raise EnvFileError(f"{self.path}:{n}: expected NAME=value, got {stripped!r}")
            out[name.strip()] = value.strip()
        return out

    def get(self, name: str) -> str:
        return self.values().get(name, "")

    def set(self, name: str, value: str) -> None:
        """Set NAME: its line is replaced where it stands, or appended."""
        if "\n" in value or "\r" in value:
            raise EnvFileError(f"{self.path}: the value of {name} may not contain a line break")
        for i, line in enumerate(self.lines):
            if line.strip().partition("=")[0].strip() == name and not line.lstrip().startswith("#"):
                self.lines[i] = f"{name}={value}"
                return
        self.lines.append(f"{name}={value}")

    def unset(self, name: str) -> None:
        self.lines = [line for line in self.lines
                      if line.lstrip().startswith("#") or line.strip().partition("=")[0].strip() != name]

    def write(self) -> None:
        """Atomically, readable by its owner only: it holds every secret of the platform."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(self.lines) + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
