"""The iamd server benchmark: ``python -m bench.server`` (see bench/README.md)."""
