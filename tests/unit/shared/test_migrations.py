from pathlib import Path

import pytest

from shared.db.migrate import load_migrations


def test_migrations_are_numbered_without_gaps() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


def test_gap_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0003_b.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="without gaps"):
        load_migrations(tmp_path)


def test_bad_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "first.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="NNNN_name"):
        load_migrations(tmp_path)
