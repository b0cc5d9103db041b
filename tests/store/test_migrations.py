"""Migrations: ordered, named, transactional, idempotent; the database enforces integrity too."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from iamd.store import EntityKind, SchemaMismatch, Store, Tag, migrate, open_store
from iamd.store.engine import make_engine
from iamd.store.schema import metadata
from tests.fresh_process import run_fresh
from tests.store.helpers import DOC

BROKEN = """
import sqlalchemy as sa
from alembic import op

revision = "0099_broken"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("UPDATE iamd_meta SET generation = 42")
    op.execute("SELECT * FROM no_such_table")


def downgrade() -> None:
    pass
"""


def test_revisions_form_one_ordered_named_chain() -> None:
    files = sorted(p for p in migrate.MIGRATIONS.joinpath("versions").glob("*.py") if p.name != "__init__.py")
    assert files, "no migrations"
    script = ScriptDirectory.from_config(_config())
    previous = None
    for number, path in enumerate(files, start=1):
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+\.py", path.name), path.name
        assert int(path.name[:4]) == number, "revisions are numbered 0001, 0002, … without gaps"
        revision = script.get_revision(path.stem)
        assert revision is not None and revision.down_revision == previous
        previous = path.stem
    assert script.get_heads() == [previous] == [migrate.head_revision()]


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
    return cfg


def test_upgrade_is_idempotent_and_builds_exactly_the_schema(empty_url: str) -> None:
    assert migrate.current_revision(empty_url) is None
    assert migrate.upgrade(empty_url) == migrate.head_revision()
    assert migrate.upgrade(empty_url) == migrate.head_revision()
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == [], diff
            assert set(inspect(conn).get_table_names()) == {t.name for t in metadata.sorted_tables} | {
                "alembic_version"
            }
            assert conn.execute(text("SELECT generation FROM iamd_meta")).scalar_one() == 0
            assert conn.execute(text("SELECT id FROM accounts")).scalars().all() == ["aws"]
    finally:
        engine.dispose()
    store = open_store(empty_url)
    store.close()


def test_a_failing_migration_leaves_nothing_behind(empty_url: str, tmp_path: Path) -> None:
    migrate.upgrade(empty_url)
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0099_broken.py").write_text(BROKEN.format(head=migrate.head_revision()))
    with pytest.raises(Exception, match="no_such_table"):
        migrate.upgrade(empty_url, migrations=scripts)
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert "half_done" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT generation FROM iamd_meta")).scalar_one() == 0
    finally:
        engine.dispose()


def test_open_store_refuses_an_unmigrated_database(empty_url: str) -> None:
    with pytest.raises(SchemaMismatch):
        open_store(empty_url)


def test_bad_urls() -> None:
    for url in ("sqlite://", "sqlite:///:memory:", "mysql://x/y"):
        with pytest.raises(ValueError):
            make_engine(url)


@pytest.mark.parametrize(
    "statement",
    [
        # names are unique case-insensitively per account
        "INSERT INTO users (id, account_id, name, name_key, path, create_date)"
        " VALUES ('AIDA2', '123456789012', 'BOB', 'bob', '/', CURRENT_TIMESTAMP)",
        # the key must be the lower-cased name
        "INSERT INTO users (id, account_id, name, name_key, path, create_date)"
        " VALUES ('AIDA3', '123456789012', 'Carol', 'CAROL', '/', CURRENT_TIMESTAMP)",
        # entities belong to existing accounts
        "INSERT INTO groups (id, account_id, name, name_key, path, create_date)"
        " VALUES ('AGPA1', '999999999999', 'g', 'g', '/', CURRENT_TIMESTAMP)",
        # a user with access keys cannot vanish
        "DELETE FROM users WHERE name = 'bob'",
        # the default version cannot be deleted
        "DELETE FROM policy_versions WHERE version_id = 'v1'",
        # nor can a policy that is attached
        "DELETE FROM policies",
        # access key status is Active or Inactive
        "UPDATE access_keys SET status = 'Expired'",
    ],
    ids=[
        "unique-lower-name",
        "name-key-check",
        "account-fk",
        "key-fk",
        "default-version-fk",
        "attachment-fk",
        "status",
    ],
)
def test_the_database_enforces_integrity(store: Store, account: str, store_url: str, statement: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        tx.create_access_key(account, "bob", "AKIAINTEGRITY0000001", b"s")
        arn = tx.create_policy(account, "p", DOC).arn
        tx.attach_policy(EntityKind.USER, account, "bob", arn)
    engine = make_engine(store_url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_tags_cascade_with_their_resource(store: Store, account: str, store_url: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob", tags=[Tag("a", "1"), Tag("b", "2")])
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM users"))
            assert conn.execute(text("SELECT count(*) FROM user_tags")).scalar_one() == 0
    finally:
        engine.dispose()


def test_the_foreign_keys_to_users_restrict_deletes(store: Store, store_url: str) -> None:
    """Every foreign key to ``users`` but its tags' (CASCADE) is ``ON DELETE RESTRICT`` (0017):
    the same integrity as ``NO ACTION``, half of PostgreSQL's trigger queries at a DeleteUser."""
    from sqlalchemy import inspect

    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            actions = {
                (table, (fk["options"].get("ondelete") or "NO ACTION").upper())
                for table in inspector.get_table_names()
                for fk in inspector.get_foreign_keys(table)
                if fk["referred_table"] == "users"
            }
    finally:
        engine.dispose()
    assert {action for table, action in actions if table != "user_tags"} == {"RESTRICT"}, actions
    assert ("user_tags", "CASCADE") in actions and len(actions) == 10


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'iamd.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()
    assert (tmp_path / "data" / "iamd.db").exists()


def _alembic_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_a_database_part_way_is_read_as_alembic_reads_it_and_upgraded(empty_url: str) -> None:
    assert migrate.current_revision(empty_url) is None is _alembic_revision(empty_url)
    assert migrate.upgrade(empty_url, "0012_orgs_delegation") == "0012_orgs_delegation"
    assert migrate.current_revision(empty_url) == "0012_orgs_delegation" == _alembic_revision(empty_url)
    with pytest.raises(SchemaMismatch):
        open_store(empty_url)
    assert migrate.upgrade(empty_url) == migrate.head_revision() == _alembic_revision(empty_url)
    open_store(empty_url).close()


def test_a_database_at_the_head_is_checked_without_loading_alembic(tmp_path: Path) -> None:
    """Every `iamd serve` upgrades and opens its store: at the head, neither imports alembic."""
    url = f"sqlite:///{tmp_path / 'iamd.db'}"
    migrate.upgrade(url)
    script = (
        "import sys\n"
        "from iamd.store import migrate, open_store\n"
        f"assert migrate.upgrade({url!r}) == migrate.head_revision()\n"
        f"open_store({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    assert run_fresh(script).strip() == "[]"


def _sqlite_contents(
    path: Path,
) -> tuple[list[tuple[str, str, list[str]]], dict[str, list[tuple[object, ...]]], list[int]]:
    """A SQLite file's schema (SQLite's own text of every object, its lines sorted: alembic's batch
    mode writes a rebuilt table's constraints in an order that varies from run to run), every
    table's rows, and its pragmas."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        objects = [
            (kind, name, sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines()))
            for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        ]
        rows = {
            name: conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
            for kind, name, _ in objects
            if kind == "table"
        }
        pragmas = [conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("user_version", "auto_vacuum", "page_size")]
        return objects, rows, pragmas
    finally:
        conn.close()


def test_a_new_sqlite_database_is_made_at_the_head_in_one_script_as_the_migrations_make_it(tmp_path: Path) -> None:
    """`iamd.store.sqlite_head` (scripts/sqlite_head_schema.py) builds exactly what the revisions
    build, without alembic; a new revision needs the script written again (its REVISION is the head)."""
    from iamd.store import sqlite_head

    assert migrate.head_revision() == sqlite_head.REVISION, "run scripts/sqlite_head_schema.py"
    by_revisions, by_script = tmp_path / "revisions.db", tmp_path / "script.db"
    assert migrate.upgrade(f"sqlite:///{by_revisions}", head_script=False) == migrate.head_revision()
    script = (
        "import sys\n"
        "from iamd.store import migrate, open_store\n"
        f"assert migrate.upgrade('sqlite:///{by_script}') == migrate.head_revision()\n"
        f"open_store('sqlite:///{by_script}').close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    assert run_fresh(script).strip() == "[]"
    objects, rows, pragmas = _sqlite_contents(by_script)
    assert (objects, pragmas) == _sqlite_contents(by_revisions)[::2]
    expected_rows = _sqlite_contents(by_revisions)[1]
    # the aws pseudo-account's creation time is the database's own, in both
    made = [r for r in rows["accounts"]] + [r for r in expected_rows["accounts"]]
    assert [r[0] for r in made] == ["aws", "aws"] and all(
        re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[3]) for r in made
    )
    assert {k: v for k, v in rows.items() if k != "accounts"} == {
        k: v for k, v in expected_rows.items() if k != "accounts"
    }
    assert [r[:3] + r[4:] for r in rows["accounts"]] == [r[:3] + r[4:] for r in expected_rows["accounts"]]


def test_the_head_script_is_used_only_on_an_empty_sqlite_database_at_its_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iamd.store import sqlite_head

    def tables(name: str) -> set[str]:
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        try:
            with engine.connect() as conn:
                return set(inspect(conn).get_table_names())
        finally:
            engine.dispose()

    monkeypatch.setattr(sqlite_head, "SCRIPT", "BEGIN; CREATE TABLE made_by_the_script (x); COMMIT;")
    migrate.upgrade(f"sqlite:///{tmp_path / 'empty.db'}")
    assert tables("empty.db") == {"made_by_the_script"}  # the script, alone
    migrate.upgrade(f"sqlite:///{tmp_path / 'partway.db'}", "0012_orgs_delegation")
    assert migrate.upgrade(f"sqlite:///{tmp_path / 'partway.db'}") == migrate.head_revision()  # alembic, from 0012
    monkeypatch.setattr(sqlite_head, "REVISION", "0012_orgs_delegation")  # as if 0013 were newer than the script
    assert migrate.upgrade(f"sqlite:///{tmp_path / 'older.db'}") == migrate.head_revision()
    for name in ("partway.db", "older.db"):
        assert "made_by_the_script" not in tables(name)
        assert tables(name) == {t.name for t in metadata.sorted_tables} | {"alembic_version"}
