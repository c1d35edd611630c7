"""Safetensors files of a model, and the tensors two components of it hold alike.

Two components often store the same large tensor: a classifier that keeps
the pretrained word-piece embeddings fixed and a response selector reading
the same frozen encoder hold the same 47 MB embedding table, bit for bit.
:func:`share_duplicate_tensors` runs when a model file is written: each
tensor of at least :data:`MIN_SHARED_BYTES` that an earlier file (in path
order) already holds is left out of the later file, and a small JSON file
beside it (``model.safetensors.shared.json``) says where it is::

    {"format": 1, "tensors": {"encoder.embeddings.word_embeddings.weight":
        {"file": "nlu/2_JointTransformerClassifier/model.safetensors",
         "tensor": "encoder.embeddings.word_embeddings.weight"}}}

``file`` is relative to the model's root. :class:`~dialogflowlite.artifact.ComponentStorage`
reads such tensors from where they are, so components never see the
difference. Only files written by ``ComponentStorage.write_tensors`` (marked
with :data:`WRITER_MARK` in their metadata) are shared: files that a library
writes and reads itself (``save_pretrained``) stay whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ModelLoadError

#: the metadata entry ``write_tensors`` puts in every file it writes
WRITER_MARK = ("writer", "dialogflowlite")
#: what a file's companion that lists its shared tensors is named after it
SHARED_SUFFIX = ".shared.json"
SHARED_FORMAT = 1
#: tensors smaller than this are always stored where they belong
MIN_SHARED_BYTES = 1 << 20
_CHUNK = 1 << 22


@dataclass(frozen=True)
class Entry:
    """One tensor in a safetensors file: its dtype, shape and byte range."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute offset in the file
    size: int


@dataclass(frozen=True)
class Header:
    """The parsed header of a safetensors file."""

    entries: dict[str, Entry]
    metadata: dict[str, str]


def read_header(path: Path) -> Header:
    """The tensors a safetensors file holds (raises OSError, ValueError on a bad file)."""
    with path.open("rb") as file:
        prefix = file.read(8)
        if len(prefix) != 8:
            raise ValueError("shorter than a safetensors header")
        header_size = int.from_bytes(prefix, "little")
        raw = json.loads(file.read(header_size))
    if not isinstance(raw, dict):
        raise ValueError("the header is not a JSON object")
    metadata = raw.pop("__metadata__", None) or {}
    data_start = 8 + header_size
    entries = {}
    for name, item in raw.items():
        first, last = item["data_offsets"]
        entries[name] = Entry(name, item["dtype"], tuple(item["shape"]),
                              data_start + int(first), int(last) - int(first))
    return Header(entries, metadata)


def shared_file(path: Path) -> Path:
    """The companion file that lists which tensors of ``path`` live elsewhere."""
    return path.with_name(path.name + SHARED_SUFFIX)


def read_shared(path: Path, archive_root: Path | None, display: str) -> dict[str, tuple[Path, str]]:
    """Tensor name -> (file, tensor name there) for the tensors ``path`` leaves to others.

    Empty when ``path`` has no companion. ``display`` names the resource in errors.
    """
    companion = shared_file(path)
    if not companion.exists():
        return {}
    if archive_root is None:
        raise ModelLoadError(f"model resource {display} shares tensors with other components, "
                             "and this storage is not part of a model",
                             hint="open the model with open_model")
    try:
        data = json.loads(companion.read_text(encoding="utf-8"))
        if data.get("format") != SHARED_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, this version reads {SHARED_FORMAT}")
        root = archive_root.resolve()
        found = {}
        for name, where in data["tensors"].items():
            other = (root / where["file"]).resolve()
            if root not in other.parents:
                raise ValueError(f"{where['file']!r} is outside the model")
            found[name] = (other, str(where["tensor"]))
        return found
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelLoadError(f"model resource {display}{SHARED_SUFFIX} cannot be read: {e}",
                             hint="retrain the model with `dialogflowlite train`") from e


def shared_entries(path: Path, archive_root: Path | None,
                   display: str) -> dict[str, tuple[Path, Entry]]:
    """Tensor name -> (file, entry there) for the tensors ``path`` leaves to others.

    Like :func:`read_shared`, with each other file's header read once and the
    tensor found in it; a tensor that is not where the companion says is a
    :class:`~dialogflowlite.errors.ModelLoadError`.
    """
    headers: dict[Path, Header] = {}
    found = {}
    for name, (other, tensor) in sorted(read_shared(path, archive_root, display).items()):
        try:
            if other not in headers:
                headers[other] = read_header(other)
            found[name] = (other, headers[other].entries[tensor])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"model resource {display}: its shared tensor {name} is not "
                                 f"in {other.name}",
                                 hint="retrain the model with `dialogflowlite train`") from e
    return found


def _tensor_files(root: Path) -> Iterator[tuple[Path, Header]]:
    """The safetensors files under ``root`` written by ``write_tensors``, in path order."""
    for path in sorted(root.rglob("*.safetensors")):
        if not path.is_file() or shared_file(path).exists():
            continue
        try:
            header = read_header(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours to change
        if header.metadata.get(WRITER_MARK[0]) == WRITER_MARK[1]:
            yield path, header


def _digest(file: Any, entry: Entry) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for chunk in _chunks(file, entry):
        digest.update(chunk)
    return digest.hexdigest()


def _chunks(file: Any, entry: Entry) -> Iterator[bytes]:
    file.seek(entry.start)
    left = entry.size
    while left > 0:
        chunk = file.read(min(_CHUNK, left))
        if not chunk:
            raise ValueError("the file is cut short")
        left -= len(chunk)
        yield chunk


def _same_bytes(first: tuple[Path, Entry], second: tuple[Path, Entry]) -> bool:
    """Whether two stored tensors are equal byte for byte (a digest match is checked)."""
    with first[0].open("rb") as a, second[0].open("rb") as b:
        return all(x == y for x, y in zip(_chunks(a, first[1]), _chunks(b, second[1]),
                                          strict=True))


def share_duplicate_tensors(root: Path, min_bytes: int | None = None) -> int:
    """Leave out of each file under ``root`` the large tensors an earlier file holds.

    Returns the bytes saved. Files are rewritten in place, each with a
    companion listing what it left out (see the module's description).
    """
    least = MIN_SHARED_BYTES if min_bytes is None else min_bytes
    first_seen: dict[tuple[str, tuple[int, ...], str], tuple[Path, Entry]] = {}
    saved = 0
    for path, header in list(_tensor_files(root)):
        left_out: dict[str, tuple[Path, Entry]] = {}
        with path.open("rb") as file:
            for entry in sorted(header.entries.values(), key=lambda e: e.start):
                if entry.size < least:
                    continue
                key = (entry.dtype, entry.shape, _digest(file, entry))
                earlier = first_seen.get(key)
                if earlier is None:
                    first_seen[key] = (path, entry)
                elif earlier[0] != path and _same_bytes(earlier, (path, entry)):
                    left_out[entry.name] = earlier
        if left_out:
            _rewrite_without(path, header, left_out.keys())
            # the tensors this file keeps moved: later files compare against them
            moved = read_header(path).entries
            for key, (where, entry) in list(first_seen.items()):
                if where == path:
                    first_seen[key] = (path, moved[entry.name])
            shared_file(path).write_text(json.dumps({"format": SHARED_FORMAT, "tensors": {
                name: {"file": where.relative_to(root).as_posix(), "tensor": entry.name}
                for name, (where, entry) in sorted(left_out.items())}}, indent=1),
                encoding="utf-8")
            saved += sum(header.entries[name].size for name in left_out)
    return saved


def _rewrite_without(path: Path, header: Header, names: Iterable[str]) -> None:
    """Rewrite a safetensors file without the tensors ``names``, copying the rest as bytes."""
    dropped = set(names)
    _write(path, header.metadata, [(e.name, path, e) for e in
                                   sorted(header.entries.values(), key=lambda e: e.start)
                                   if e.name not in dropped])


def materialise(path: Path, archive_root: Path | None, display: str) -> None:
    """Put the tensors ``path`` shares back into it and drop its companion.

    For a component copied from another model: the file it shared with may
    be retrained in the new one.
    """
    shared = shared_entries(path, archive_root, display)
    if not shared:
        return
    header = read_header(path)
    pieces = [(e.name, path, e) for e in sorted(header.entries.values(), key=lambda e: e.start)]
    pieces += [(name, other, entry) for name, (other, entry) in shared.items()]
    _write(path, header.metadata, pieces)
    shared_file(path).unlink()


def _write(path: Path, metadata: dict[str, str],
           pieces: list[tuple[str, Path, Entry]]) -> None:
    """Write a safetensors file of ``pieces`` (name, file the bytes are in, where) and
    put it in place of ``path`` (which may be one of the sources)."""
    layout: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, _, entry in pieces:
        layout[name] = {"dtype": entry.dtype, "shape": list(entry.shape),
                        "data_offsets": [offset, offset + entry.size]}
        offset += entry.size
    encoded = json.dumps(layout, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned, as safetensors does
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as target:
        target.write(len(encoded).to_bytes(8, "little"))
        target.write(encoded)
        for _, source_path, entry in pieces:
            with source_path.open("rb") as source:
                for chunk in _chunks(source, entry):
                    target.write(chunk)
    os.replace(partial, path)
