"""An S3-compatible example service whose every request is authorized by iamd (docs/s3.md).

Buckets and objects live on local disk (``store``); the service speaks S3's REST-XML over
path-style URLs (``route``, ``buckets``, ``objects``, ``multipart``); what each request asks
iamd is ``resolve``; ``app.create_s3_app`` puts it behind ``iamd.authz.asgi``'s middleware.
"""

from .app import S3App, create_s3_app
from .request import S3Settings
from .store import Store

__all__ = ["S3App", "S3Settings", "Store", "create_s3_app"]
