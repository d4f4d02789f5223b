"""Rebuild fvcli/models/demo_model, the small texture classifier shipped with fvcli.

Run with `.venv/bin/python scripts/train_demo_model.py`; it takes a few minutes on 2 CPU cores.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # the network

from support.demo_net import train  # noqa: E402
from fvcli.config.model_names import DEMO_MODEL_DIR  # noqa: E402

if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    accuracy = train(str(DEMO_MODEL_DIR), steps=steps)
    if accuracy < 0.95:
        sys.exit(f"accuracy {accuracy:.3f} is below 0.95; not good enough to ship")
