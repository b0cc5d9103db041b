"""The contract-test fixtures of tests/api (one real iamd server per module, boto3 clients)."""

from tests.api.conftest import acct, api_server, data_dir, iam, server_clock, user_client

__all__ = ["acct", "api_server", "data_dir", "iam", "server_clock", "user_client"]
