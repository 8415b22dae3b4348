"""A broken plugin: calls sys.exit at import (reliability test fixture)."""
import sys

sys.exit(3)
