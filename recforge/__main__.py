"""`python -m recforge` runs the CLI (also what `torchrun -m recforge` executes)."""

from recforge.cli import main

if __name__ == "__main__":
    main()
