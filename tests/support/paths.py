"""Where the checkout and the third-party reference files are."""

from pathlib import Path

# tests/support/paths.py: two folders below the checkout.
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# Third-party reference files (QuantConnect's OpenAPI file, Slack's manifest schema); see tests/data/README.md
DATA_DIR = REPO_ROOT / "tests" / "data"
