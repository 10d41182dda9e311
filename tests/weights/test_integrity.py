"""Streaming sha256 with an in-process cache that notices a changed file."""

import hashlib
import os

import pytest

from wnlb_zoo.weights import WeightIntegrityError, sha256_file, verify_file
from wnlb_zoo.weights.integrity import _CHUNK_BYTES, read_sha256


def test_sha256_streams_files_larger_than_a_chunk(tmp_path):
    path = tmp_path / "blob.bin"
    data = os.urandom(2 * _CHUNK_BYTES + 123)
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_a_changed_file_is_hashed_again(tmp_path, flip_byte):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 1000)
    before = sha256_file(path)
    flip_byte(path, 10)
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))  # even on coarse-mtime file systems
    assert sha256_file(path) != before
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_sha256_sees_damage_that_keeps_size_and_modification_time(tmp_path, flip_byte):
    # What a checkpoint check before a resume must see (engine.checkpoint reads with read_sha256),
    # and what the weights' stat-keyed cache, by design, does not.
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 1000)
    stat = path.stat()
    cached = sha256_file(path)
    flip_byte(path, 10)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert read_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest() != cached
    assert sha256_file(path) == cached


def test_verify_file_names_the_file_and_both_hashes(exported, tmp_path):
    path = tmp_path / "other.safetensors"
    path.write_bytes(b"not the weight")
    verify_file(exported.export.weights, exported.record)
    with pytest.raises(WeightIntegrityError) as error:
        verify_file(path, exported.record)
    message = str(error.value)
    assert str(path) in message
    assert exported.record.sha256 in message
    assert hashlib.sha256(b"not the weight").hexdigest() in message
    assert "Nothing was loaded" in message
