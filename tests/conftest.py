import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# docker/scripts holds the operator tools the tests exercise (make check, ...).
sys.path.insert(0, str(ROOT / "docker" / "scripts"))
