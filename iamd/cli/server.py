"""``iamd serve``, ``iamd db upgrade``, ``iamd profile``, ``iamd trail``."""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iamd.limits import HttpLimits
from iamd.partitions import SUPPORTED_PARTITIONS

from .audit import audit_budget, audit_options
from .audit import export as trail_export
from .client import (
    DEFAULT_ENDPOINT,
    data_dir_option,
    data_dir_source,
    profile_sections,
    record_endpoint,
    recorded_endpoint,
    recorded_region,
    root_credentials,
    write_profile,
)

if TYPE_CHECKING:
    from iamd.cache import CacheLimits
    from iamd.store import AuditEvent


def _database_url(data_dir: Path, database: str | None) -> str:
    return database or os.environ.get("IAMD_DATABASE_URL") or f"sqlite:///{data_dir.resolve() / 'iamd.db'}"


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A database that cannot be reached, read or is of another schema: one error line, no traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from iamd.store import SchemaMismatch

    try:
        yield
    except SchemaMismatch as e:
        where = make_url(url).render_as_string(hide_password=True)
        raise click.ClickException(f"{where}: {e} (`iamd db upgrade`)") from None
    except SQLAlchemyError as e:
        where = make_url(url).render_as_string(hide_password=True)
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise click.ClickException(f"database {where}: {reason}") from None


database_option = click.option(
    "--database", default=None, help="Database URL, e.g. postgresql://user@host/db (env IAMD_DATABASE_URL). "
    "Default: SQLite in the data directory.",
)  # fmt: skip


_DEFAULT_LIMITS = HttpLimits()


def _limit_options(command: Callable[..., None]) -> Callable[..., None]:
    """``serve``'s HTTP limits (docs/security.md), each a flag and an environment variable."""
    options = (
        ("--max-header-bytes", "IAMD_MAX_HEADER_BYTES", click.IntRange(min=1024),
         "Largest request head (target plus header names and values) in bytes; larger: 431."),
        ("--max-headers", "IAMD_MAX_HEADERS", click.IntRange(min=8), "Most header fields in a request; more: 431."),
        ("--header-timeout", "IAMD_HEADER_TIMEOUT", click.FloatRange(min=0.01),
         "Seconds for a request's head to arrive, from the connection or the request's first byte; then 408."),
        ("--body-timeout", "IAMD_BODY_TIMEOUT", click.FloatRange(min=0.01),
         "Seconds for a request's body to arrive after its head; then 408."),
        ("--keep-alive-timeout", "IAMD_KEEP_ALIVE_TIMEOUT", click.FloatRange(min=0.01),
         "Seconds an idle keep-alive connection is kept open."),
        ("--max-connections", "IAMD_MAX_CONNECTIONS", click.IntRange(min=2),
         "Open connections (per server process) beyond which requests are answered 503."),
        ("--request-threads", "IAMD_REQUEST_THREADS", click.IntRange(min=1),
         "Worker threads (per server process) for the requests not answered on the event loop."),
        ("--write-threads", "IAMD_WRITE_THREADS", click.IntRange(min=0),
         "PostgreSQL: the write lane's threads (per server process); 0: as many as --request-threads. SQLite: one."),
    )  # fmt: skip
    for flag, env, kind, text in reversed(options):
        default = getattr(_DEFAULT_LIMITS, flag[2:].replace("-", "_"))
        command = click.option(flag, type=kind, default=default, show_default=True, envvar=env,
                               help=f"{text} (env {env})")(command)  # fmt: skip
    return command


@contextmanager
def partition_errors() -> Iterator[None]:
    """A partition or region the server cannot serve: a clear message, not a traceback."""
    from iamd.partitions import UnknownPartition
    from iamd.store.settings import PartitionMismatch

    try:
        yield
    except (UnknownPartition, PartitionMismatch) as e:
        _fail(str(e))


WORKER_HEALTHCHECK_SECONDS = 60  # how long a worker may take to answer uvicorn's supervisor (--workers)


def _fail(message: str) -> None:
    click.echo(f"iamd: {message}", err=True)
    raise SystemExit(1)


def check_port(host: str, port: int) -> None:
    """Exit with one plain line, before anything is opened or announced, if ``host:port``
    cannot be listened on (uvicorn binds it again, the same way, a moment later)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]  # fmt: skip
    except socket.gaierror as e:
        _fail(f"cannot listen on {host} port {port}: {e.strerror}")
        return
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                _fail(f"port {port} on {host} is already in use (another iamd serve?); "
                      "stop it or choose another port with --port")  # fmt: skip
            _fail(f"cannot listen on {host} port {port}: {e.strerror}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4566, show_default=True, type=int)
@data_dir_option
@database_option
@click.option("--account-id", default=None, help="12-digit account id for a new data directory (default: random).")
@click.option("--dev", is_flag=True, help="Test-suite mode: account 123456789012, root keys from IAMD_ROOT_*.")
@click.option(
    "--oidc-jwks", "oidc_jwks", multiple=True, metavar="ISSUER=URL|FILE",
    help="Where an OIDC issuer's signing keys are (repeatable; env IAMD_OIDC_JWKS, space-separated). "
    "Default: OIDC discovery at https://<issuer>/.well-known/openid-configuration. docs/federation.md",
)  # fmt: skip
@click.option(
    "--cache-poll", default=0.1, show_default=True, type=click.FloatRange(min=0.001), envvar="IAMD_CACHE_POLL",
    help="Seconds between checks for other server processes' writes to the same database "
    "(the propagation bound; docs/architecture.md).",
)  # fmt: skip
@click.option(
    "--cache-memory", default=256, show_default=True, type=click.IntRange(min=8), envvar="IAMD_CACHE_MEMORY",
    metavar="MIB", help="Approximate memory budget of the cache (credentials, entities, compiled policies) "
    "in MiB; the least recently used entries go first (docs/architecture.md, caches).",
)  # fmt: skip
@click.option(
    "--cache-entries", default=200_000, show_default=True, type=click.IntRange(min=100),
    envvar="IAMD_CACHE_ENTRIES",
    help="Active callers to keep warm: at most this many credentials, opened sessions and compiled policy "
    "sets each in the cache, and twice as many entities (a user's record and its tags).",
)  # fmt: skip
@click.option(
    "--cache-preload", default=100_000, show_default=True, type=click.IntRange(min=0),
    envvar="IAMD_CACHE_PRELOAD", metavar="KEYS",
    help="At start-up, load every access key's credential and its user's policy set into the cache in the "
    "background, if the database has at most this many keys (0: never); above it, on first use only "
    "(docs/architecture.md, the credential index).",
)  # fmt: skip
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=1),
    help="Server processes on the one port, each with its own caches, kept in step through the "
    "database (--cache-poll bounds how soon one sees another's writes).",
)  # fmt: skip
@click.option(
    "--audit-writer", type=click.Choice(["process", "thread"]), default="process", show_default=True,
    envvar="IAMD_AUDIT_WRITER",
    help="Where read and failure audit events are turned into JSON and stored: a child process "
    "(off the server's core) or a thread of the server.",
)  # fmt: skip
@click.option(
    "--partition", type=click.Choice(SUPPORTED_PARTITIONS), default=None, envvar="IAMD_PARTITION",
    help="The AWS partition served (its name is in every ARN). Recorded when the database is created "
    "[default: aws]; an existing database keeps its own. docs/iam-api.md, Regions and partitions",
)  # fmt: skip
@click.option(
    "--regions", default=None, envvar="IAMD_REGIONS", metavar="REGION,...",
    help="The regions requests may be signed for (comma-separated) [default: every region of the "
    "partition]. The partition's home region (us-east-1, cn-north-1, us-gov-west-1) is always accepted.",
)  # fmt: skip
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Serve HTTPS with this PEM certificate (chain); needs --tls-key. docs/console.md, TLS",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The PEM private key of --tls-cert.",
)
@click.option(
    "--tls-self-signed",
    is_flag=True,
    help="Serve HTTPS with a self-signed certificate made into the data directory (tls-cert.pem).",
)
@click.option("--s3", "s3_port", type=int, default=None, metavar="PORT",
              help="Also serve the S3 example service on PORT, authorized in process (docs/s3.md).")  # fmt: skip
@click.option(
    "--history-retention", default="keep", envvar="IAMD_HISTORY_RETENTION", show_default=True,
    help="How much policy history to keep for `iamd explain`: keep (all), or an age such as 365d, 52w, 1y.",
)  # fmt: skip
@audit_options  # --audit-retention, --audit-max-size, --audit-archive, --audit-reads (docs/audit.md)
@_limit_options
def serve(
    host: str, port: int, data_dir: Path, database: str | None, account_id: str | None, dev: bool,
    oidc_jwks: tuple[str, ...] = (), cache_poll: float = 0.1, workers: int = 1, audit_writer: str = "process",
    partition: str | None = None, regions: str | None = None, cache_memory: int = 256, cache_entries: int = 200_000,
    cache_preload: int = 100_000, tls_cert: Path | None = None, tls_key: Path | None = None,
    tls_self_signed: bool = False, s3_port: int | None = None, history_retention: str = "keep",
    audit_retention: str = "off", audit_max_size: str = "off", audit_archive: Path | None = None,
    audit_reads: str = "all", **limit_values: float,
) -> None:  # fmt: skip
    """Start the IAM server (AWS Query API over HTTP, or HTTPS with --tls-*)."""
    from iamd.retention import parse_retention

    try:
        keep_history = parse_retention(history_retention)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--history-retention") from None
    limits = HttpLimits(**limit_values)  # type: ignore[arg-type]
    os.umask(0o077)  # everything the server creates is private (docs/security.md, "Files")
    check_port(host, port)
    if s3_port is not None:  # checked before anything is announced, like the server's own port
        if workers > 1:
            _fail("--s3 runs in one server process: leave out --workers, or run `iamd s3 serve` beside the workers")
        check_port(host, s3_port)
    tls = _tls_options(data_dir, host, tls_cert, tls_key, tls_self_signed)

    import uvicorn

    from iamd.api import Backend, create_app
    from iamd.api.protocol import uvicorn_options
    from iamd.root_password import read_root_password_hash

    console = Console(stderr=True)
    jwks = [*os.environ.get("IAMD_OIDC_JWKS", "").split(), *oidc_jwks]
    _configure_jwks(jwks)
    url = _database_url(data_dir, database)
    region_list = regions.split(",") if regions else None
    with database_errors(url), partition_errors():
        backend, root = Backend.open(
            url, data_dir, account_id=account_id, dev=dev, partition=partition, regions=region_list,
            cache_limits=cache_limits(cache_memory, cache_entries),
        )  # fmt: skip
    if keep_history is not None:  # policy history retention (iamd.retention)
        from iamd.retention import start as start_retention

        start_retention(backend.store, keep_history, lambda e: console.print(f"history retention: {escape(str(e))}"))
    audit_spec = [audit_retention, audit_max_size, str(audit_archive) if audit_archive else None, audit_reads]
    backend.configure_audit(audit_budget(*audit_spec))
    endpoint = record_endpoint(
        data_dir, host, port, "https" if tls else "http"
    )  # for iamd profile, assume, user, key (iamd.cli.client)
    console.print(f"[bold]iamd[/bold] account [cyan]{backend.account_id}[/cyan] at [cyan]{endpoint}[/cyan]",
                  highlight=False)  # fmt: skip
    if root.created:
        where = escape(str(data_dir / "root-credentials"))
        console.print(f"Root access key [cyan]{root.access_key_id}[/cyan] written to {where}", highlight=False)
    profile_command = escape("iamd profile" + ("" if data_dir == Path("iamd-data") else f" --data-dir {data_dir}"))
    console.print(f"Use it: [bold]{profile_command}[/bold], then [bold]aws --profile iamd iam list-users[/bold]",
                  highlight=False, markup=True)  # fmt: skip
    console.print(f"Web console: [cyan]{escape(endpoint)}/console[/cyan]", highlight=False)
    if read_root_password_hash(data_dir) is None:
        console.print("The root user has no console password yet: [bold]iamd root set-password[/bold]", highlight=False)
    if workers > 1:
        # The first start (account, root key, managed policies) is done above, once; each
        # worker process then opens the same database with its own Backend and watcher.
        account = backend.account_id
        backend.close()
        os.environ.update({
            _WORKER_ENV: json.dumps({"url": url, "data_dir": str(data_dir.resolve()), "account_id": account,
                                     "dev": dev, "cache_poll": cache_poll, "audit_writer": audit_writer,
                                     "oidc_jwks": jwks, "limits": limit_values, "partition": backend.partition.name,
                                     "regions": region_list, "cache": [cache_memory, cache_entries],
                                     "cache_preload": cache_preload,
                                     "audit": audit_spec}),
        })  # fmt: skip
        # uvicorn's supervisor kills a worker that does not answer its health ping within
        # timeout_worker_healthcheck (5 s by default); a worker importing iamd and opening its
        # database on a busy machine can take longer, and was killed and restarted in a loop.
        uvicorn.run("iamd.cli.server:worker_app", factory=True, host=host, port=port, workers=workers,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                    **uvicorn_options(limits), **tls)  # fmt: skip
        return
    app = create_app(backend, limits)
    if s3_port is not None:  # the S3 example service beside it (docs/s3.md)
        from .s3 import start_in_process

        start_in_process(backend, host, s3_port, data_dir / "s3")
        console.print(f"S3 service: [cyan]http://{host}:{s3_port}[/cyan]", highlight=False)
    backend.watch(cache_poll)
    if audit_writer == "process":
        backend.audit_in_process(url)
    tune_runtime()
    if cache_preload:
        backend.preload(cache_preload)
    try:
        uvicorn.run(app, host=host, port=port, **uvicorn_options(limits), **tls)
    finally:
        backend.close()


_WORKER_ENV = "IAMD_SERVE_WORKER"


def _tls_options(data_dir: Path, host: str, cert: Path | None, key: Path | None, self_signed: bool) -> dict[str, Any]:
    """uvicorn's TLS options from ``--tls-cert/--tls-key`` or ``--tls-self-signed`` (iamd.tls)."""
    if self_signed and (cert or key):
        _fail("--tls-self-signed makes its own certificate: give it without --tls-cert and --tls-key")
    if bool(cert) != bool(key):
        _fail("--tls-cert and --tls-key go together")
    if self_signed:
        from datetime import UTC, datetime

        from iamd.tls import self_signed as make

        cert, key = make(data_dir, host, datetime.now(UTC))
    if cert is None or key is None:
        return {}
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def cache_limits(memory_mib: int, entries: int) -> CacheLimits:
    """``--cache-memory`` and ``--cache-entries`` as the cache's limits."""
    from iamd.cache import CacheLimits

    return CacheLimits.per_caller(entries, memory_mib)


def tune_runtime() -> None:
    # Long-lived objects (models, compiled plans, caches) need no scanning by the cyclic GC:
    # freezing them and collecting less often keeps collection pauses out of the latency tail.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    # The audit writer thread builds and stores batches; a short GIL switch interval keeps
    # it from holding up requests for the default 5 ms at a time.
    sys.setswitchinterval(0.0005)


def worker_app() -> object:
    """The ASGI app of one ``iamd serve --workers N`` process (uvicorn calls this in each)."""
    from iamd.api import Backend, create_app

    spec = json.loads(os.environ[_WORKER_ENV])
    _configure_jwks(list(spec.get("oidc_jwks", ())))
    backend, _ = Backend.open(
        spec["url"], Path(spec["data_dir"]), account_id=spec["account_id"], dev=spec["dev"],
        partition=spec.get("partition"), regions=spec.get("regions"), cache_limits=cache_limits(*spec["cache"]),
    )  # fmt: skip
    backend.watch(float(spec["cache_poll"]))
    backend.configure_audit(audit_budget(*spec["audit"]))
    if spec["audit_writer"] == "process":
        backend.audit_in_process(spec["url"])
    app = create_app(backend, HttpLimits(**spec["limits"]))
    tune_runtime()
    if spec.get("cache_preload"):
        backend.preload(int(spec["cache_preload"]))
    return app


def _configure_jwks(options: list[str]) -> None:
    """``ISSUER=URL|FILE`` options → the process's JWKS resolver (identity federation)."""
    if not options:
        return  # PyJWT is not loaded at start-up unless a JWKS source is given
    from iamd.federation.jwks import KeyUnavailable, default_resolver, parse_source_option

    for option in options:
        try:
            issuer, source = parse_source_option(option)
        except (ValueError, KeyUnavailable) as e:
            raise click.BadParameter(str(e), param_hint="--oidc-jwks") from None
        default_resolver().configure(issuer, source)


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@data_dir_option
@database_option
def db_upgrade(data_dir: Path, database: str | None) -> None:
    """Apply pending schema migrations."""
    from iamd.datadir import make_private
    from iamd.store import migrate

    make_private(data_dir)
    url = _database_url(data_dir, database)
    with database_errors(url):
        revision = migrate.upgrade(url)
    click.echo(f"database at revision {revision}")


@db.command("prune-history")
@click.option("--older-than", "older_than", required=True, help="Forget the history older than this: 365d, 52w, 1y.")
@data_dir_option
@database_option
def db_prune_history(older_than: str, data_dir: Path, database: str | None) -> None:
    """Forget the policy history that only a replay of an older event needs (docs/troubleshooting.md)."""
    from iamd.retention import parse_retention, prune
    from iamd.store import open_store

    try:
        keep = parse_retention(older_than)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--older-than") from None
    if keep is None:
        raise click.BadParameter("give an age such as 365d", param_hint="--older-than")
    url = _database_url(data_dir, database)
    with database_errors(url):
        store = open_store(url)
        try:
            count = prune(store, keep)
        finally:
            store.close()
    click.echo(f"{count} policy history rows older than {older_than} forgotten")


@db.command("load")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--account", required=True, help="The 12-digit account to load into (created if new).")
@data_dir_option
@database_option
def db_load(source: Path, account: str, data_dir: Path, database: str | None) -> None:
    """Load users, groups, roles, managed policies and access keys from SOURCE, a JSON Lines
    file (- for standard input), in one transaction through the store's bulk path
    (docs/bulk-load.md). Nothing is written if a line cannot be loaded.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from iamd.api.managed_policies import install_managed_policies
    from iamd.bulk_load import LoadError, load_lines
    from iamd.datadir import make_private
    from iamd.keyring import load_secret_box
    from iamd.store import migrate, open_store
    from iamd.store.settings import settle_partition

    if not (len(account) == 12 and account.isdigit()):
        raise click.BadParameter("a 12-digit account id", param_hint="--account")
    make_private(data_dir)
    url = _database_url(data_dir, database)
    console = Console(stderr=True)
    with database_errors(url), contextlib.ExitStack() as stack:
        box = load_secret_box(data_dir, os.environ)
        migrate.upgrade(url)
        served = settle_partition(url, None, fresh=False)
        store = open_store(url, partition=served)
        stack.callback(store.close)
        install_managed_policies(store, served)  # the AWS managed policies the lines may attach
        stream = sys.stdin.buffer if str(source) == "-" else stack.enter_context(source.open("rb"))
        total = None if str(source) == "-" else source.stat().st_size
        bar = stack.enter_context(Progress(
            TextColumn("loading"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=console,
            disable=not console.is_terminal and not os.environ.get("IAMD_PROGRESS"),
        ))  # fmt: skip
        task = bar.add_task("load", total=total)
        try:
            done = load_lines(store, stream, account=account, partition=served, progress=lambda n: bar.advance(task, n),
                              seal=lambda secret, context: box.seal(secret, context=context).encode())  # fmt: skip
        except LoadError as e:
            raise click.ClickException(f"{source}: {e} (nothing was loaded)") from None
    counts = ", ".join(f"{n} {what}" for what, n in done.counts.items() if n)
    click.echo(f"account {done.account}: {counts or 'nothing to load'}")


@db.command("quota")
@click.argument("settings", nargs=-1, metavar="[NAME=VALUE|NAME=default ...]")
@click.option("--account", required=True, help="The 12-digit account.")
@data_dir_option
@database_option
def db_quota(settings: tuple[str, ...], account: str, data_dir: Path, database: str | None) -> None:
    """Show or set the account's entity quotas: Users, Groups, Roles, Policies, InstanceProfiles
    (AWS's defaults unless set; `default` puts one back). The API refuses a create past its quota
    with AWS's LimitExceeded; GetAccountSummary reports them (docs/iam-api.md, "Quotas").
    """
    from iamd.service.iam.checks import ENTITY_QUOTAS, MAX_ENTITY_QUOTA, entity_quotas
    from iamd.store import NotFound, migrate, open_store

    if not (len(account) == 12 and account.isdigit()):
        raise click.BadParameter("a 12-digit account id", param_hint="--account")
    wanted: dict[str, int | None] = {}
    for item in settings:
        name, eq, value = item.partition("=")
        if not eq or name not in ENTITY_QUOTAS or not (value == "default" or value.isdigit()):
            raise click.BadParameter(f"{item!r}: write NAME=VALUE or NAME=default, NAME one of "
                                     f"{', '.join(ENTITY_QUOTAS)}", param_hint="SETTINGS")  # fmt: skip
        if value != "default" and not 1 <= int(value) <= MAX_ENTITY_QUOTA:
            raise click.BadParameter(f"{item!r}: a quota is between 1 and {MAX_ENTITY_QUOTA:,}", param_hint="SETTINGS")
        wanted[name] = None if value == "default" else int(value)
    url = _database_url(data_dir, database)
    with database_errors(url):
        migrate.upgrade(url)
        store = open_store(url)
        try:
            if wanted:
                with store.transaction() as tx:
                    for name, number in wanted.items():
                        tx.set_entity_quota(account, name, number)
            with store.read() as read:
                read.get_account(account)
                quotas, own = entity_quotas(read, account), read.get_entity_quotas(account)
        except NotFound:
            raise click.ClickException(f"the data directory has no account {account}") from None
        finally:
            store.close()
    for name, quota in quotas.items():
        click.echo(f"{name:<17} {quota:>11,}  {'set' if name in own else 'AWS default'}")


@db.command("load-managed-policies")
@click.argument("dump", type=click.File("r", encoding="utf-8"))
@data_dir_option
@database_option
def db_load_managed_policies(dump: TextIO, data_dir: Path, database: str | None) -> None:
    """Load AWS managed policies from a GetAccountAuthorizationDetails JSON dump.

    On a real account: aws iam get-account-authorization-details --filter AWSManagedPolicy > dump.json
    """
    from iamd.api.managed_policies import load_authorization_details
    from iamd.datadir import make_private
    from iamd.store import migrate, open_store
    from iamd.store.settings import settle_partition

    make_private(data_dir)
    url = _database_url(data_dir, database)
    with database_errors(url):
        migrate.upgrade(url)
        served = settle_partition(url, None, fresh=False)  # a dump of the database's own partition
        store = open_store(url, partition=served)
        try:
            count = load_authorization_details(store, json.load(dump), served)
        except (ValueError, KeyError) as e:
            raise click.ClickException(f"{dump.name}: {e}") from None
        finally:
            store.close()
    click.echo(f"{count} AWS managed policies loaded")


@click.command()
@data_dir_option
@click.option(
    "--endpoint", default=None,
    help="iamd's URL (default: the address `iamd serve` recorded in the data directory, else http://127.0.0.1:4566).",
)  # fmt: skip
@click.option("--name", default="iamd", show_default=True, help="Profile name.")
@click.option("--print", "print_only", is_flag=True, help="Print the profile instead of writing ~/.aws files.")
@click.pass_context
def profile(ctx: click.Context, data_dir: Path, endpoint: str | None, name: str, print_only: bool) -> None:
    """Write an AWS CLI / boto3 profile that points at iamd with the root credentials."""
    path = data_dir / "root-credentials"
    try:
        key_id, secret = root_credentials(data_dir)
    except FileNotFoundError:
        raise click.ClickException(
            f"no root credentials at {path.absolute()} (data directory {data_dir}: {data_dir_source(ctx)}); "
            "`iamd serve` writes them on its first start"
        ) from None
    except (OSError, ValueError, KeyError) as e:
        raise click.ClickException(f"cannot read the root credentials at {path}: {e}") from None
    url = (endpoint or recorded_endpoint(data_dir) or DEFAULT_ENDPOINT).rstrip("/")
    region = recorded_region(data_dir)
    if print_only:
        config_section, cred_section = profile_sections(url, key_id, secret, region)
        click.echo(f"[profile {name}]")
        for k, v in {**config_section, **cred_section}.items():
            click.echo(f"{k} = {v}")
        return
    write_profile(name, url, key_id, secret, region)
    click.echo(f"profile {name!r} written (endpoint {url}); try: aws --profile {name} iam list-users")


@click.group(invoke_without_command=True)
@data_dir_option
@database_option
@click.option(
    "--user", "user_name", default=None,
    help="Only calls by this principal: a user name, a role name or role session name, or an ARN.",
)  # fmt: skip
@click.option("--event", "event_name", default=None, help="Only this event name, e.g. CreateUser.")
@click.option("--since", type=click.DateTime(), default=None, help="From this time (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Before this time (UTC).")
@click.option("--errors", "errors_only", is_flag=True, help="Only failed calls.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="JSON lines (the CloudTrail records).")
@click.pass_context
def trail(
    ctx: click.Context, data_dir: Path, database: str | None, user_name: str | None, event_name: str | None,
    since: datetime | None, until: datetime | None, errors_only: bool, limit: int, as_json: bool,
) -> None:  # fmt: skip
    """Query the audit trail, newest first. Reads only: it never creates or changes a database.

    iamd trail export --since ... --to FILE.jsonl.gz: the trail as JSON lines (docs/audit.md)."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy.exc import SQLAlchemyError

    from iamd.store import open_store

    url = _database_url(data_dir, database)
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.is_file():
        given = database or os.environ.get("IAMD_DATABASE_URL")
        origin = "--database / IAMD_DATABASE_URL" if given else f"data directory {data_dir}: {data_dir_source(ctx)}"
        raise click.ClickException(
            f"no iamd database at {db_file.absolute()} ({origin}); name the server's data directory with "
            "--data-dir or IAMD_DATA_DIR, or its database with --database"
        )
    start = since.replace(tzinfo=UTC) if since else None
    end = until.replace(tzinfo=UTC) if until else None
    events: list[AuditEvent] = []
    with database_errors(url):
        store = open_store(url)
    try:
        with store.read() as tx:
            for account in (a.id for a in tx.list_accounts() if a.id != "aws"):
                marker: str | None = None
                found = 0
                while found < limit:  # newest first; --user is matched here, to find role sessions too
                    page = tx.list_audit_events(
                        account, event_name=event_name, start=start, end=end, errors_only=errors_only,
                        marker=marker, max_items=limit if user_name is None else 1000,
                    )  # fmt: skip
                    matching = [e for e in page.items if user_name is None or _is_by(e, user_name)]
                    events += matching[: limit - found]
                    found += len(matching)
                    if page.marker is None:
                        break
                    marker = page.marker
    except SQLAlchemyError as e:
        raise click.ClickException(f"cannot read the database: {e.__class__.__name__}: {e}") from None
    finally:
        store.close()
    events = sorted(events, key=lambda e: (e.event_time, e.sequence or 0), reverse=True)[:limit]
    if as_json:
        for event in events:
            click.echo(event.record)
        return
    if not events:
        click.echo("no matching audit events", err=True)
        return
    several_accounts = len({e.account_id for e in events}) > 1
    table = Table(box=None, show_edge=False, pad_edge=False, expand=False)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("event", overflow="fold")
    table.add_column("who", overflow="fold")
    table.add_column("error", overflow="fold")
    for event in events:
        who = _who(event)
        if several_accounts:
            who = f"{event.account_id} {who}"
        table.add_row(event.event_time.strftime("%Y-%m-%d %H:%M:%S"), event.event_name, who, _error(event))
    Console(highlight=False).print(table)


def _is_by(event: AuditEvent, name: str) -> bool:
    """Whether ``name`` names the event's principal: its user name, ARN, or a role session's role or session name."""
    if name in (event.user_name, event.user_arn):
        return True
    arn = event.user_arn or ""
    if ":assumed-role/" in arn:  # arn:aws:sts::<account>:assumed-role/<role>/<session>
        return name in arn.split(":assumed-role/", 1)[1].split("/", 1)
    if ":federated-user/" in arn:
        return name == arn.split(":federated-user/", 1)[1]
    return name == "root" and arn.endswith(":root")


def _who(event: AuditEvent) -> str:
    """The principal, short: a user's name, ``assumed-role/<role>/<session>``, ``root``; the ARN otherwise."""
    if event.user_name:
        return event.user_name
    arn = event.user_arn or ""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    if arn.endswith(":root"):
        return "root"
    if resource.startswith(("assumed-role/", "federated-user/")):
        return resource
    return arn or "-"


def _error(event: AuditEvent) -> str:
    """``Code: message`` of a failed call (the message from its record) and why
    (iamd's decision or authentication members, docs/iam-api.md); nothing for a success."""
    if not event.error_code:
        return ""
    try:
        record = json.loads(event.record)
    except ValueError:
        record = {}
    message = str(record.get("errorMessage") or "")
    text = f"{event.error_code}: {message}" if message else event.error_code
    why = _why(record)
    return f"{text} (why: {why})" if why else text


def _why(record: dict[str, Any]) -> str:
    """A short why: ``explicitDeny by identity: why-policy Sid NoDeletes #1``, or the presented key and reason."""
    decision = record.get("iamdDecision")
    if isinstance(decision, dict) and decision.get("decision") not in (None, "allowed"):
        parts = [f"{decision['decision']} by {decision.get('blockingPolicyType') or '-'}"]
        for st in decision.get("statements") or ():
            name = st.get("policyArn") or st.get("policyName") or "?"
            sid = f" Sid {st['sid']}" if st.get("sid") else ""
            parts.append(f"{name}{sid} #{st.get('statementIndex')}")
        if decision.get("missingContextKeys"):
            parts.append("missing " + ", ".join(decision["missingContextKeys"]))
        return "; ".join(parts)
    refused = record.get("iamdAuthentication")
    if isinstance(refused, dict):
        return f"key {refused.get('accessKeyId')}: {refused.get('reason')}"
    return ""


trail.add_command(trail_export)  # iamd trail export (docs/audit.md)
