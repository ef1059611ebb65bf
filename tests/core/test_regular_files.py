"""The one bounded read of a hostile path: never hangs on a FIFO or device, never follows a link unless
asked, never reads past its limit, and says which of the three reasons refused a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentfactory.regular_files import NOT_REGULAR, OPEN, TOO_LARGE, FileRefused, read_regular


def refusal(path: Path | str, limit: int = 100, **options) -> FileRefused:
    with pytest.raises(FileRefused) as caught:
        read_regular(path, limit, **options)
    return caught.value


def test_a_file_within_its_limit_is_read_whole(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"x" * 100)
    assert read_regular(tmp_path / "a.txt", 100) == b"x" * 100


def test_a_file_over_its_limit_is_refused_with_its_size(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"x" * 101)
    refused = refusal(tmp_path / "a.txt")
    assert (refused.kind, refused.size) == (TOO_LARGE, 101)


def test_a_file_that_holds_more_than_its_size_says_is_cut_at_the_limit():
    # /proc files declare size 0 and hold more: what the read finds counts, not what stat said.
    refused = refusal("/proc/self/status", 10)
    assert (refused.kind, refused.size) == (TOO_LARGE, None)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    assert refusal(tmp_path / "pipe").kind == NOT_REGULAR


def test_a_device_and_a_folder_are_not_regular_files(tmp_path):
    assert refusal("/dev/zero").kind == NOT_REGULAR
    assert refusal(tmp_path).kind == NOT_REGULAR


def test_a_link_is_refused_unless_the_caller_follows_links(tmp_path):
    (tmp_path / "secret").write_bytes(b"s")
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    assert refusal(tmp_path / "link").kind == OPEN
    assert read_regular(tmp_path / "link", 10, follow_links=True) == b"s"


def test_a_missing_file_carries_the_systems_words(tmp_path):
    refused = refusal(tmp_path / "nope")
    assert (refused.kind, refused.strerror) == (OPEN, "No such file or directory")
