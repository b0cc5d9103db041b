"""iamd: a self-hosted, AWS-compatible IAM and STS service."""

__version__ = "0.1.0"
