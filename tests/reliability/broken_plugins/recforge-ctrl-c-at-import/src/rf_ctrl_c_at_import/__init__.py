"""A broken plugin: raises KeyboardInterrupt at import (reliability test fixture)."""
raise KeyboardInterrupt
