"""``python -m optscan`` is the ``optscan`` command."""

from optscan.cli import main

main()
