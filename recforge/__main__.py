"""`python -m recforge` runs the CLI (also what `torchrun -m recforge` executes)."""

from recforge.cli import main

if __name__ == "__main__":
    # main() returns the exit status of commands that failed with a RecforgeError (click's
    # standalone_mode=False hands it back instead of exiting), so pass it on like the
    # console script does
    raise SystemExit(main())
