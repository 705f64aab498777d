"""``python -m iotpipe`` runs the same command line as the ``iotpipe`` script."""

from iotpipe.cli import main

main()
