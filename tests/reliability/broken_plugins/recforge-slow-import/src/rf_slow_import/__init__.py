"""A plugin whose import takes long (reliability test fixture: the user presses Ctrl-C meanwhile).

It only waits when ``RF_SLOW_IMPORT_READY`` names a file to create first, so other tests that
share its environment are not slowed down.
"""
import os
import pathlib
import time

if os.environ.get("RF_SLOW_IMPORT_READY"):
    pathlib.Path(os.environ["RF_SLOW_IMPORT_READY"]).write_text("importing")
    time.sleep(60)
