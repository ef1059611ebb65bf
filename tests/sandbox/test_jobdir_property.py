"""Mechanism tests of the host side of the job folder (issue 13, items 2, 5, 15): generated hostile trees
through the output copy-out, the usage walk and the removal; generated hostile values through the result
and status decoders; and every host touchpoint of a job folder whose parts were all swapped for links,
FIFOs and huge files. No sandbox needed: the trees are what a sandbox could leave. A seeded generator
(hypothesis is not a dependency), so a failure names its seed."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import stat
from pathlib import Path

import pytest

from agentfactory.sandbox import hostfs as fs_module
from agentfactory.sandbox import jobdir as jd_module
from agentfactory.sandbox import trace as t
from agentfactory.sandbox.hostfs import copy_outputs, printable_name
from agentfactory.sandbox.jobdir import JobDir
from agentfactory.sandbox.reports import decode_result, decode_status

NAMES = [
    "a", "b.txt", "data.csv", "caf\u00e9", "\u65e5\u672c", "with space", ".hidden", "-dash", "x" * 240,
    "new\nline", "\x1b[31mred", "bell\x07", "\u202eevil", "tab\tname", "nbsp\u00a0x", "c1\u009bcsi",
    os.fsdecode(b"raw\xff\xfe"), os.fsdecode(b"\xed\xa0\x80sur"), "[bold]markup", "back\\slash",
]  # fmt: skip


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (a host that blocks on a FIFO would hang here)."""

    def expired(signum, frame):
        raise AssertionError(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                out[path] = (st.st_mode, Path(path).read_bytes())
            elif stat.S_ISLNK(st.st_mode):
                out[path] = (st.st_mode, os.readlink(path))
            else:
                out[path] = (st.st_mode, b"")
    return out


def build_tree(rng: random.Random, top: Path, outside: Path, budget: list[int], depth: int = 0) -> None:
    """A random hostile tree under `top`; budget[0] bounds the number of entries."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(rng.randint(0, 8)):
            if budget[0] <= 0:
                return
            budget[0] -= 1
            name = rng.choice(NAMES) + ("" if rng.random() < 0.5 else str(rng.randint(0, 99)))
            if os.path.lexists(top / name):
                continue
            kind = rng.choice(["file", "file", "file", "dir", "dir", "link", "dirlink", "dangling",
                               "fifo", "socket", "hardlink", "big", "chain"])  # fmt: skip
            path = top / name
            if kind == "file":
                path.write_bytes(rng.randbytes(rng.randint(0, 20_000)))
            elif kind == "big":
                with open(path, "wb") as fh:
                    fh.truncate(rng.choice([1 << 20, 5 << 20, 1 << 30]))
            elif kind == "dir" and depth < 6:
                path.mkdir()
                build_tree(rng, path, outside, budget, depth + 1)
            elif kind == "link":
                os.symlink(outside / "secret.txt", path)
            elif kind == "dirlink":
                os.symlink(rng.choice([str(outside), "../" * 8, "/"]), path)
            elif kind == "dangling":
                os.symlink(outside / "created-by-the-host", path)
            elif kind == "fifo":
                os.mkfifo(path)
            elif kind == "socket" and len(str(path)) < 100:
                s = socket.socket(socket.AF_UNIX)
                s.bind(str(path))
                s.close()
            elif kind == "hardlink":
                (top / f"{name}.orig").write_bytes(b"h")
                os.link(top / f"{name}.orig", path)
            elif kind == "chain":
                os.mkdir(name, dir_fd=fd)
                cur = os.open(name, os.O_RDONLY, dir_fd=fd)
                for _ in range(rng.choice([5, 40, 1500])):
                    os.mkdir("d", dir_fd=cur)
                    nxt = os.open("d", os.O_RDONLY, dir_fd=cur)
                    os.close(cur)
                    cur = nxt
                os.symlink(outside / "created-by-the-host", "bottom", dir_fd=cur)
                os.close(cur)
    finally:
        os.close(fd)


def clash_destination(rng: random.Random, src: Path, dest: Path) -> None:
    """Earlier outputs in `dest` whose type differs from what the sandbox left under the same name."""
    for entry in os.scandir(src):
        if not printable_name(entry.name) or rng.random() < 0.5:
            continue
        if entry.is_dir(follow_symlinks=False):
            (dest / entry.name).write_text("an earlier file")
        elif entry.is_file(follow_symlinks=False):
            (dest / entry.name).mkdir(exist_ok=True)
            (dest / entry.name / "kept.txt").write_text("an earlier folder")


@pytest.mark.parametrize("seed", range(30))
def test_copy_out_survives_generated_hostile_trees(seed, tmp_path, monkeypatch):
    rng = random.Random(seed)
    files, depth = rng.choice([20, 200, 10_000]), rng.choice([3, 8, 32])
    for module in (fs_module, jd_module):  # the copy's bounds and the job folder's count of them
        monkeypatch.setattr(module, "MAX_OUTPUT_FILES", files)
        monkeypatch.setattr(module, "MAX_OUTPUT_DEPTH", depth)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET")
    dest = tmp_path / "dest"
    dest.mkdir()
    jd = JobDir()
    root = jd.root
    try:
        build_tree(rng, jd.outputs, outside, [rng.randint(5, 120)])
        clash_destination(rng, jd.outputs, dest)
        before_outside = snapshot(outside)
        cap = rng.choice([1 << 10, 64 << 10, 8 << 20])
        with deadline(60):
            total, count = jd.outputs_usage()
            copy = copy_outputs(jd.data_fd, "work/outputs", dest, cap)
        assert count <= fs_module.MAX_OUTPUT_FILES + 1
        copied_bytes = 0
        for rel, digest in copy.copied:
            parts = rel.split("/")
            assert len(parts) <= fs_module.MAX_OUTPUT_DEPTH
            assert all(printable_name(p) for p in parts)
            copied_bytes += (dest / rel).stat().st_size
            assert len(digest) == 64
        assert copied_bytes <= cap
        assert len(copy.copied) <= fs_module.MAX_OUTPUT_FILES
        assert len(copy.refusals) <= fs_module.MAX_REFUSALS_LISTED
        for shown, reason in copy.refusals.items():
            assert shown.isprintable() and reason.isprintable()
            shown.encode("utf-8")
        for dirpath, dirnames, filenames in os.walk(dest):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                assert stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)
                assert printable_name(name) and not name.startswith(".af-tmp-")
    finally:
        with deadline(120):
            jd.remove()
    assert not os.path.lexists(root)
    assert snapshot(outside) == before_outside
    assert not (outside / "created-by-the-host").exists()


def test_removal_of_a_chain_deeper_than_path_max_and_the_descriptor_limit(tmp_path):
    jd = JobDir()
    root = jd.root
    fd = os.open(jd.outputs, os.O_RDONLY)
    for _ in range(5000):  # "d/" * 5000 is past PATH_MAX; one descriptor per level is past RLIMIT_NOFILE
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)
    with deadline(120):
        assert jd.outputs_usage()[1] > fs_module.MAX_OUTPUT_FILES  # too deep counts as over the bound
        jd.remove()
    assert not os.path.lexists(root) and not os.path.lexists(jd.data_root)


# ---- the decoders ------------------------------------------------------------------------------------


def hostile_value(rng: random.Random, depth: int = 0):
    kind = rng.randint(0, 9 if depth < 6 else 4)
    if kind == 0:
        return rng.choice([float("nan"), float("inf"), float("-inf"), 1e308, -0.0])
    if kind == 1:
        return rng.choice(["\ud800", "ok\udcff", "\x1b[2J", "", "x" * rng.randint(0, 5000), "\u202e"])
    if kind == 2:
        return rng.choice([10**4000, -(2**63), 0, True, None])
    if kind == 3:
        return rng.choice(NAMES)
    if kind == 4:
        return rng.random()
    if kind <= 6:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        str(hostile_value(rng, depth + 1))[:50]: hostile_value(rng, depth + 1)
        for _ in range(rng.randint(0, 4))
    }


def hostile_bytes(rng: random.Random, limit: int) -> bytes:
    kind = rng.randint(0, 9)
    if kind <= 3:
        value = {"ok": rng.choice([True, False, "yes", 1]), "result": hostile_value(rng)}
        if rng.random() < 0.3:
            value["error"] = rng.choice([hostile_value(rng), {"type": hostile_value(rng), "frames": "x"}])
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, allow_nan=True)
        return text.encode("utf-8", "surrogatepass")
    if kind == 4:
        n = rng.choice([50, 1000, 100_000])
        return ('{"ok": true, "result": ' + "[" * n + "]" * n + "}").encode()
    if kind == 5:
        return b'{"ok": true, "result": "' + b"x" * (limit + rng.randint(-2, 2)) + b'"}'
    if kind == 6:
        return rng.randbytes(rng.randint(0, 300))
    if kind == 7:
        return rng.choice(
            [b"[]", b"null", b"NaN", b"1e999", b'"str"', b"", b"{", b'{"ok": true, "result": 1e999}']
        )
    if kind == 8:
        return b'{"ok": true, "result": "\xed\xa0\x80 \xff\xfe", "\xed\xb0\x80": 1}'
    return b'{"ok": true, "result": ' + b"9" * rng.choice([10, 4000, 5000]) + b"}"


def hostile_status(rng: random.Random) -> bytes:
    keys = ["exit_code", "signal", "maxrss_kb", "stdout_bytes", "stderr_bytes", "stream_flood", "stopped"]
    value = {k: hostile_value(rng) for k in keys if rng.random() < 0.8}
    if rng.random() < 0.2:
        return rng.randbytes(50)
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def writable_as_json(value) -> None:
    """Serialisable and encodable as UTF-8 (NaN and infinities are kept: the view decides how to show them)."""
    json.dumps(value, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("seed", range(300))
def test_decoders_never_raise_and_keep_their_bounds(seed):
    rng = random.Random(seed)
    limit = rng.choice([64, 4096, 1 << 20])
    data = hostile_bytes(rng, limit)
    result = decode_result(data, limit)
    assert result is None or isinstance(result, str | dict)
    if isinstance(result, dict):
        assert len(data) <= limit
        writable_as_json(result)
        assert not t.max_depth_exceeded(result, t.DEFAULT_RESULT_MAX_DEPTH + 2)
    status = decode_status(hostile_status(rng))
    if status is not None:
        for key in ("maxrss_kb", "stdout_bytes", "stderr_bytes"):
            assert type(status[key]) is int and status[key] >= 0
        assert status["signal"] is None or type(status["signal"]) is int
        assert type(status["stream_flood"]) is bool and type(status["stopped"]) is bool


@pytest.mark.parametrize("seed", range(40))
def test_finish_turns_any_report_into_a_writable_trace(seed, tmp_path):
    rng = random.Random(seed)
    jd = JobDir()
    try:
        req = t.ExecutionRequest(tmp_path, "sub", output_dir=tmp_path / "out", result_max_bytes=4096,
                                 stream_max_bytes=256)  # fmt: skip
        (jd.report / "result.json").write_bytes(hostile_bytes(rng, 4096))
        (jd.report / "status.json").write_bytes(hostile_status(rng))
        (jd.report / "stdout.bin").write_bytes(rng.randbytes(rng.randint(0, 1000)))
        trace = jd.finish(req, "local", "test", 0.1)
    finally:
        jd.remove()
    assert trace.status in t.STATUSES
    writable_as_json(trace.to_dict())
    assert len(trace.stdout) < 400


# ---- every host touchpoint, with every part of the job folder swapped ------------------------------------


@pytest.mark.parametrize("variant", ["symlink", "fifo", "huge", "folder"])
def test_every_host_touchpoint_with_every_part_swapped(variant, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(json.dumps({"ok": True, "result": "SECRET", "exit_code": 0}))
    made = outside / "created-by-the-host"
    jd = JobDir()
    root = jd.root
    before = snapshot(outside)

    def swap(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            fs_module.remove_tree(path)
        elif os.path.lexists(path):
            path.unlink()
        if variant == "symlink":
            os.symlink(made if path.name in ("stop", "go", "job.json") else outside / "secret.txt", path)
        elif variant == "fifo":
            os.mkfifo(path)
        elif variant == "huge":
            with open(path, "wb") as fh:
                fh.truncate(1 << 40)
        else:
            path.mkdir()

    for rel in ("ctl/go", "ctl/stop", "ctl/job.json", "report/status.json", "report/result.json",
                "report/stdout.bin", "report/stderr.bin", "work/outputs", "report"):  # fmt: skip
        swap((jd.data_root if rel.startswith("work/") else root) / rel)
    req = t.ExecutionRequest(tmp_path, "sub", output_dir=tmp_path / "out")
    try:
        with deadline(60):
            jd.request_stop()
            assert jd.hand_over(b"{}", deadline_s=0.2) is False
            jd.outputs_usage()
            trace = jd.finish(req, "local", "test", 0.1)
    finally:
        with deadline(60):
            jd.remove()
    assert trace.status == "sandbox_error", trace.compact()
    assert "SECRET" not in json.dumps(trace.to_dict())
    assert not os.path.lexists(root) and not os.path.lexists(jd.data_root)
    assert snapshot(outside) == before
    assert not os.path.lexists(made)
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


def test_result_decoder_keeps_nan_and_replaces_lone_surrogates():
    data = b'{"ok": true, "result": {"x": NaN, "y": 1e999, "s": "a\\ud800b", "\\udcff": ["\\ud83d"]}}'
    value = decode_result(data, 1 << 10)
    result = value["result"]
    assert result["x"] != result["x"] and result["y"] == float("inf")  # NaN and inf stay numbers
    assert result["s"] == "a\ufffdb" and result["\ufffd"] == ["\ufffd"]
    raw = b'{"ok": true, "result": "\xed\xa0\x80"}'  # what the runner writes for a lone surrogate
    assert decode_result(raw, 1 << 10)["result"] == "\ufffd"
    assert decode_result(b'{"ok": true, "result": "\xff\xfe"}', 1 << 10)["result"] == "\ufffd\ufffd"
