"""The books' and the store's refusals: what is missing is named; nothing is rewritten."""

from __future__ import annotations

import pytest

from regchain.supervise import SuperviseError
from regchain.supervise.books import Books
from regchain.supervise.store import Store


def snapshot(version=0, status=1):
    return {"header": {"model": {}, "content": {"type": "account", "object_id": "rc-1:account:ab", "version": version,
                                                "operation": "create"}},
            "body": {"account_information": {"basic_account_information": {"account_status": status}}}}


def test_books__lookups_missing__name_the_hash(tmp_path):
    b = Books(tmp_path / "b.sqlite")
    with pytest.raises(SuperviseError, match="no operator"):
        b.operator()
    with pytest.raises(SuperviseError, match="books: no security for code_hash 0x" + "ab" * 32):
        b.security(bytes.fromhex("ab" * 32))
    with pytest.raises(SuperviseError, match="books: no holder for identity 0x" + "cd" * 32):
        b.holder("0x" + "CD" * 32)
    with pytest.raises(SuperviseError, match="books: no court and case number for case_hash 0x" + "ef" * 32):
        b.case(bytes.fromhex("ef" * 32))
    assert b.document("0x" + "00" * 32) == (None, None) and b.account_no("0x" + "11" * 20) is None


def test_books__upserts__second_write_replaces_not_duplicates(tmp_path):
    b = Books(tmp_path / "b.sqlite")
    b.add_holder(b"\x01" * 32, "张三", "INDIVIDUAL", "RESIDENT_ID", "11010519491231002X")
    b.add_holder(b"\x01" * 32, "张三", "INDIVIDUAL", "RESIDENT_ID", "11010519491231002X")
    assert b.counts()["holders"] == 1 and b.holder(b"\x01" * 32).name == "张三"
    with pytest.raises(SuperviseError, match="holder type 'PERSON' is not one of INDIVIDUAL, INSTITUTION, PRODUCT"):
        b.add_holder(b"\x02" * 32, "李四", "PERSON", "RESIDENT_ID", "x")


def test_store__put_twice_same_content__kept_and_indexed_once(tmp_path):
    s = Store(tmp_path)
    d1 = s.put(snapshot(), business_tx=None, block=1, log_index=0, step="x")
    d2 = s.put(snapshot(), business_tx=None, block=1, log_index=0, step="x")
    assert d1 == d2 and len(s.rows()) == 1 and s.read_bytes("rc-1:account:ab", 0) is not None


def test_store__put_different_content__refused_and_file_kept(tmp_path):
    s = Store(tmp_path)
    s.put(snapshot(), business_tx=None, block=1, log_index=0, step="x")
    before = s.read_bytes("rc-1:account:ab", 0)
    with pytest.raises(SuperviseError, match="stored snapshot rc-1:account:ab/0 differs from the one generated now"):
        s.put(snapshot(status=3), business_tx=None, block=1, log_index=0, step="x")
    assert s.read_bytes("rc-1:account:ab", 0) == before


@pytest.mark.parametrize("bad", ["a/b", ".hidden"])
def test_store__object_id_not_a_file_name__refused(tmp_path, bad):
    with pytest.raises(SuperviseError, match="cannot name a file"):
        Store(tmp_path).path(bad, 0)


def test_store__s3_without_index_and_missing_readonly__refused(tmp_path):
    with pytest.raises(SuperviseError, match="an S3 store keeps its index locally: give the index file"):
        Store("s3://bucket/prefix")
    with pytest.raises(SuperviseError, match="no snapshot store at .* \\(index.sqlite missing\\)"):
        Store(tmp_path / "none", readonly=True)


def test_store__file_cut_short_by_a_kill__written_again_and_indexed(tmp_path):
    whole = Store(tmp_path / "a")
    whole.put(snapshot(), business_tx=None, block=1, log_index=0, step="x")
    data = whole.read_bytes("rc-1:account:ab", 0)
    s = Store(tmp_path / "b")
    path = s.path("rc-1:account:ab", 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(data[:len(data) // 2])  # a killed run's write, its index row never committed
    digest = s.put(snapshot(), business_tx=None, block=1, log_index=0, step="x")
    assert s.read_bytes("rc-1:account:ab", 0) == data and s.row("rc-1:account:ab", 0).digest == digest


def test_store__later_version__written_beside_the_first_without_a_temporary_file(tmp_path):
    s = Store(tmp_path)
    s.put(snapshot(), business_tx=None, block=1, log_index=0, step="x")
    s.put(snapshot(version=1, status=3), business_tx=None, block=2, log_index=0, step="x")
    assert sorted(p.name for p in s.path("rc-1:account:ab", 0).parent.iterdir()) == ["0.json", "1.json"]
