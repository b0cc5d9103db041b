"""The iamd policy engine benchmark: ``python -m bench`` (see bench/README.md)."""
