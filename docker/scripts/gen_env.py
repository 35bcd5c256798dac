"""Create .env from .env.example with strong random secrets, if it does not exist.

A trial is still one command, and nothing ever starts with a well-known password.
"""

import secrets
import sys
from pathlib import Path

GENERATED = {"POSTGRES_PASSWORD", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"}


def main(example: Path, target: Path) -> None:
    if target.exists():
        return
    lines = []
    for line in example.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() in GENERATED and not value.strip():
            value = secrets.token_hex(12) if name.strip() == "S3_ACCESS_KEY_ID" else secrets.token_urlsafe(32)
            line = f"{name}={value}"
        lines.append(line)
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o600)
    print(f"wrote {target} with generated secrets ({', '.join(sorted(GENERATED))})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
