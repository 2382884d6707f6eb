"""``python -m hurtle_cli``: the same as the ``hurtle`` command."""

from hurtle_cli.main import main

if __name__ == "__main__":
    main()
