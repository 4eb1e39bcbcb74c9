"""The WARC file reader on real archives and on real archives with their framing broken.

Every file in ``shared/fixtures/crawls`` is read record for record as warcio reads it (warcio is the
oracle for files whose framing holds). The broken files are made at test time from the real ClueWeb09
excerpt: a Content-Length too short or too long, garbage between records or gzip members, a corrupt
or truncated gzip member, the whole file as one gzip stream. Each break is reported with its file
offset, and every record the break did not touch is still read.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections import Counter
from pathlib import Path

import pytest
from shared_fixtures import SHARED_FIXTURES
from warcio.archiveiterator import ArchiveIterator

from webfaq_stream.decode.warc_file import FramingError, WarcFileRecord, read_warc_file

CRAWLS = SHARED_FIXTURES / "crawls"
FILES = sorted(path for path in CRAWLS.iterdir() if ".warc" in path.name)
CLUEWEB = CRAWLS / "resiliparse__clueweb-quirk.warc.gz"
BROKEN = 5  # the record (in file order) whose framing the tests break


def read_all(data: bytes, **options: int) -> tuple[list[WarcFileRecord], list[FramingError]]:
    records: list[WarcFileRecord] = []
    errors: list[FramingError] = []
    for item in read_warc_file(io.BytesIO(data), **options):
        (errors if isinstance(item, FramingError) else records).append(item)  # type: ignore[arg-type]
    return records, errors


def warcio_records(path: Path) -> list[tuple[str, str | None]]:
    with path.open("rb") as stream:
        return [(record.rec_type, record.rec_headers.get_header("WARC-Target-URI"))
                for record in ArchiveIterator(stream, check_digests=False)]


def test_the_fixture_folder_holds_warc_files() -> None:
    assert FILES, f"no WARC files under {CRAWLS}"


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_real_archive_is_read_record_for_record(path: Path) -> None:
    records, errors = read_all(path.read_bytes())
    assert errors == []
    assert [(record.warc_type, record.target_uri) for record in records] == warcio_records(path)
    for record in records[:50]:  # each record is its own WARC: warcio reads it alone
        assert record.data is not None
        alone = list(ArchiveIterator(io.BytesIO(record.data), check_digests=False))
        assert [(one.rec_type, one.rec_headers.get_header("WARC-Target-URI")) for one in alone] == \
            [(record.warc_type, record.target_uri)]


def members(path: Path) -> list[tuple[bytes, bytes]]:
    """The gzip members of a per-record gzip file: (member bytes, inflated record)."""
    data = path.read_bytes()
    found: list[tuple[bytes, bytes]] = []
    position = 0
    while position < len(data):
        inflater = zlib.decompressobj(31)
        record = inflater.decompress(data[position:])
        end = len(data) - len(inflater.unused_data)
        found.append((data[position:end], record))
        position = end
    return found


def with_length(record: bytes, change: int) -> bytes:
    match = re.search(rb"\r\nContent-Length: (\d+)\r\n", record)
    assert match
    return record[:match.start(1)] + str(int(match.group(1)) + change).encode() + record[match.end(1):]


@pytest.fixture(scope="module")
def clueweb() -> list[tuple[bytes, bytes]]:
    return members(CLUEWEB)


def ids(records: list[WarcFileRecord]) -> list[str]:
    return [re.search(rb"WARC-Record-ID: (\S+)", record.data or b"").group(1).decode()  # type: ignore[union-attr]
            for record in records]


def test_every_member_is_one_record(clueweb: list[tuple[bytes, bytes]]) -> None:
    records, errors = read_all(CLUEWEB.read_bytes())
    assert not errors and len(records) == len(clueweb)
    offsets = [sum(len(member) for member, _ in clueweb[:index]) for index in range(len(clueweb))]
    assert [record.offset for record in records] == offsets
    assert [record.data for record in records] == [record for _, record in clueweb]


@pytest.mark.parametrize("change", [-50, 50], ids=["content_length_short", "content_length_long"])
@pytest.mark.parametrize("compression", ["plain", "gzip_per_record", "gzip_whole_file"])
def test_a_wrong_content_length_costs_that_record_only(clueweb: list[tuple[bytes, bytes]], change: int,
                                                       compression: str) -> None:
    plain = [with_length(record, change) if index == BROKEN else record
             for index, (_, record) in enumerate(clueweb)]
    if compression == "plain":
        data = b"".join(plain)
        where = (sum(map(len, plain[:BROKEN])), None)
    elif compression == "gzip_per_record":
        data = b"".join(gzip.compress(record) if index == BROKEN else member
                        for index, ((member, _), record) in enumerate(zip(clueweb, plain, strict=True)))
        where = (sum(len(member) for member, _ in clueweb[:BROKEN]), 0)
    else:
        data = gzip.compress(b"".join(plain))
        where = (0, sum(map(len, plain[:BROKEN])))
    records, errors = read_all(data)
    assert [(error.offset, error.offset_in_member) for error in errors] == [where]
    assert "Content-Length" in errors[0].detail
    expected = ids(read_all(CLUEWEB.read_bytes())[0])
    assert ids(records) == expected[:BROKEN] + expected[BROKEN + 1:]


def test_garbage_between_records_is_reported_and_skipped(clueweb: list[tuple[bytes, bytes]]) -> None:
    plain = [record for _, record in clueweb]
    data = b"".join(plain[:BROKEN]) + b"stray bytes\r\n\r\n" + b"".join(plain[BROKEN:])
    records, errors = read_all(data)
    assert [error.offset for error in errors] == [sum(map(len, plain[:BROKEN]))]
    assert len(records) == len(plain)


def test_garbage_between_gzip_members_is_reported_and_skipped(clueweb: list[tuple[bytes, bytes]]) -> None:
    garbage = b"not gzip at all\n"
    data = b"".join(member for member, _ in clueweb[:BROKEN]) + garbage + \
        b"".join(member for member, _ in clueweb[BROKEN:])
    records, errors = read_all(data)
    at = sum(len(member) for member, _ in clueweb[:BROKEN])
    assert [(error.offset, error.detail) for error in errors] == \
        [(at, f"{len(garbage)} bytes that are not a gzip member")]
    assert len(records) == len(clueweb)


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_bad_gzip_member_costs_its_record_only(clueweb: list[tuple[bytes, bytes]], damage: str) -> None:
    member = clueweb[BROKEN][0]
    bad = member[:200] + bytes(64) + member[264:] if damage == "corrupt" else member[:-100]
    data = b"".join(m for m, _ in clueweb[:BROKEN]) + bad + b"".join(m for m, _ in clueweb[BROKEN + 1:])
    records, errors = read_all(data)
    assert [error.offset for error in errors] == [sum(len(m) for m, _ in clueweb[:BROKEN])]
    expected = ids(read_all(CLUEWEB.read_bytes())[0])
    assert ids(records) == expected[:BROKEN] + expected[BROKEN + 1:]


def test_a_file_cut_inside_its_last_member_reports_it(clueweb: list[tuple[bytes, bytes]]) -> None:
    data = b"".join(member for member, _ in clueweb)[:-300]
    records, errors = read_all(data)
    assert len(records) == len(clueweb) - 1
    assert [error.offset for error in errors] == [sum(len(member) for member, _ in clueweb[:-1])]


def test_a_record_over_the_size_limit_is_counted_not_held(clueweb: list[tuple[bytes, bytes]]) -> None:
    sizes = [len(record) for _, record in clueweb]
    lengths = [int(re.search(rb"Content-Length: (\d+)", record).group(1)) for _, record in clueweb]  # type: ignore[union-attr]
    limit = sorted(lengths)[len(lengths) // 2]
    records, errors = read_all(b"".join(record for _, record in clueweb), max_record_bytes=limit)
    assert not errors
    assert [record.size for record in records] == sizes
    assert [record.data is None for record in records] == [length > limit for length in lengths]
    assert Counter(record.warc_type for record in records) == Counter(
        re.search(rb"WARC-Type: (\S+)", record).group(1).decode() for _, record in clueweb)  # type: ignore[union-attr]


def test_bytes_that_are_no_warc_at_all_are_one_report() -> None:
    records, errors = read_all(b"<html><body>not an archive</body></html>\n" * 100)
    assert records == [] and len(errors) == 1 and errors[0].offset == 0
