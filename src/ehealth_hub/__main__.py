"""``python -m ehealth_hub`` runs the command line."""

from ehealth_hub.cli import main

main()
