"""`python -m space_factory` is the `space-factory` command."""

from space_factory.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
