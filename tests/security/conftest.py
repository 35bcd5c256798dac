import sys
from pathlib import Path

# The Helm tests' harness (render_chart), imported the way tests/helm imports it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helm"))
