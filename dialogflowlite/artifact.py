"""The trained agent on disk: one ``.tar`` file under ``models/``.

Inside: ``manifest.json`` (versions, config, fingerprints, the components and
where their resources are) and one folder per component holding only JSON,
text and safetensors files. Loading a model never executes code from it: no
pickle, and archive members are checked before extraction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dialogflowlite import __version__
from dialogflowlite.errors import ConfigError, ModelLoadError
from dialogflowlite.tensor_files import (
    SHARED_SUFFIX,
    WRITER_MARK,
    Entry,
    materialise,
    read_header,
    share_duplicate_tensors,
    shared_entries,
)

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: the format this version writes: 2 may leave a tensor to another component's file
#: (see tensor_files), which a reader of format 1 would not find
FORMAT_VERSION = 2
#: the formats this version loads
READABLE_FORMATS = (1, 2)
MODEL_SUFFIX = ".tar"
ALLOWED_SUFFIXES = {".json", ".safetensors", ".txt", ".model", ".jsonl", ".yml", ".yaml", ""}


def _torch_dtype(name: str) -> Any:
    """The torch dtype of a safetensors dtype name (None for a name not listed here)."""
    import torch

    return {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
            "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
            "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
            "BOOL": torch.bool}.get(name)


def _damaged(resource: str, error: Exception) -> ModelLoadError:
    """The error for a model file that is there but cannot be read (cut short, or other
    bytes in it): it was a traceback, and a 500 for ``PUT /model``."""
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ModelLoadError(f"model resource {resource} is damaged: {detail}",
                          hint="copy the model file again, or retrain it with "
                               "`dialogflowlite train`")


class ComponentStorage:
    """The resource folder of one component: JSON, text and safetensors, nothing executable.

    ``archive_root`` is the root of the model the folder belongs to: a
    tensor file there may leave a tensor that another component stores alike
    to that component's file (see :mod:`dialogflowlite.tensor_files`), and
    reading it follows the reference.
    """

    def __init__(self, root: Path, archive_root: Path | None = None) -> None:
        self.root = Path(root)
        self.archive_root = Path(archive_root) if archive_root is not None else None

    def path(self, name: str) -> Path:
        """A path inside this component's folder (for libraries that write their own files)."""
        target = (self.root / name).resolve()
        if self.root.resolve() not in target.parents and target != self.root.resolve():
            raise ValueError(f"resource name {name!r} leaves the component folder")
        return target

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def write_json(self, name: str, data: Any) -> None:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    def read_json(self, name: str) -> Any:
        text = self.read_text(name)
        try:
            return json.loads(text)
        except ValueError as e:
            raise _damaged(f"{self.root.name}/{name}", e) from e

    def write_text(self, name: str, text: str) -> None:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def read_text(self, name: str) -> str:
        try:
            return self.path(name).read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise ModelLoadError(f"model resource {self.root.name}/{name} is missing",
                                 hint="retrain the model with `dialogflowlite train`") from e
        except (OSError, ValueError) as e:  # (a UnicodeDecodeError is a ValueError)
            raise _damaged(f"{self.root.name}/{name}", e) from e

    def write_tensors(self, name: str, tensors: dict[str, Any]) -> None:
        """Save a dict of torch tensors as safetensors (shared storage is copied first).

        Read the file back with :meth:`read_tensors` or :meth:`read_tensors_into`:
        in a saved model its large tensors may be stored once for several
        components.
        """
        from safetensors.torch import save_file

        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(target),
                  metadata=dict([WRITER_MARK]))

    def _display(self, name: str) -> str:
        return f"{self.root.name}/{name}"

    def read_tensors(self, name: str, device: str = "cpu") -> dict[str, Any]:
        """Every tensor of a file written by :meth:`write_tensors`, by name."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = self.path(name)
        try:
            tensors = load_file(str(path), device=device)
        except FileNotFoundError as e:
            raise ModelLoadError(f"model resource {self._display(name)} is missing",
                                 hint="retrain the model with `dialogflowlite train`") from e
        except Exception as e:  # safetensors raises its own error types
            raise _damaged(self._display(name), e) from e
        by_file: dict[Path, list[tuple[str, str]]] = {}
        for key, (other, entry) in shared_entries(path, self.archive_root,
                                                  self._display(name)).items():
            by_file.setdefault(other, []).append((key, entry.name))
        for other, wanted in by_file.items():
            try:
                with safe_open(str(other), framework="pt", device=device) as file:
                    for key, stored in wanted:
                        tensors[key] = file.get_tensor(stored)
            except Exception as e:  # safetensors raises its own error types
                raise ModelLoadError(f"model resource {self._display(name)}: its shared "
                                     f"tensors cannot be read from {other.name}: {e}",
                                     hint="retrain the model with `dialogflowlite train`") from e
        return tensors

    def read_tensors_into(self, name: str, module: Any) -> tuple[list[str], list[str]]:
        """Read a safetensors file straight into ``module``'s parameters and buffers.

        Each stored tensor is read from the file into the memory of the tensor
        of the same name, so loading holds no second copy of the weights (a
        mapped or read file would be resident beside the model until the
        last tensor is copied). Returns the names the module has that the file
        lacks, and the names the file has that the module lacks; a stored
        tensor whose shape or type differs from the module's is an error.
        """
        targets = dict(module.state_dict(keep_vars=True))
        path = self.path(name)
        try:
            entries = dict(read_header(path).entries)
        except FileNotFoundError as e:
            raise ModelLoadError(f"model resource {self._display(name)} is missing",
                                 hint="retrain the model with `dialogflowlite train`") from e
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"model resource {self._display(name)} cannot be read: {e}",
                                 hint="retrain the model with `dialogflowlite train`") from e
        # name -> (file, entry there): the file's own tensors, then those it shares
        where = {key: (path, entry) for key, entry in entries.items()}
        where.update(shared_entries(path, self.archive_root, self._display(name)))
        by_file: dict[Path, list[tuple[str, Entry]]] = {}
        for key, (file_path, entry) in where.items():
            if key in targets:
                by_file.setdefault(file_path, []).append((key, entry))
        for file_path, wanted in by_file.items():
            self._read_entries(name, file_path, wanted, targets)
        missing = sorted(key for key in targets if key not in where)
        unexpected = sorted(key for key in where if key not in targets)
        return missing, unexpected

    def _read_entries(self, name: str, path: Path, wanted: list[tuple[str, Entry]],
                      targets: dict[str, Any]) -> None:
        """Read each (target name, stored entry) of one file into the target's memory."""
        import torch

        try:
            with path.open("rb") as file:
                for key, entry in sorted(wanted, key=lambda item: item[1].start):
                    target = targets[key]
                    if (tuple(target.shape) != entry.shape
                            or _torch_dtype(entry.dtype) != target.dtype
                            or not target.is_contiguous() or target.device.type != "cpu"):
                        raise ModelLoadError(
                            f"model resource {self._display(name)}: {key} is "
                            f"{entry.dtype} {list(entry.shape)}, the model's is "
                            f"{target.dtype} {list(target.shape)}",
                            hint="retrain the model with `dialogflowlite train`")
                    file.seek(entry.start)
                    with torch.no_grad():
                        view = target.detach().view(-1).view(torch.uint8)
                        if file.readinto(memoryview(view.numpy())) != entry.size:
                            raise ModelLoadError(
                                f"model resource {self._display(name)} is cut short",
                                hint="retrain the model with `dialogflowlite train`")
        except FileNotFoundError as e:
            raise ModelLoadError(f"model resource {self._display(name)} is missing "
                                 f"({path.name})",
                                 hint="retrain the model with `dialogflowlite train`") from e

    def copy_from(self, other: ComponentStorage) -> None:
        """Replace this folder's content with another storage's (reusing unchanged components).

        Tensors the copied files shared with other components of ``other``'s
        model are copied into them: those components may be retrained.
        """
        if self.root.exists():
            shutil.rmtree(self.root)
        shutil.copytree(other.root, self.root)
        for companion in sorted(self.root.rglob("*" + SHARED_SUFFIX)):
            tensors = companion.with_name(companion.name[: -len(SHARED_SUFFIX)])
            # the references name files of the model the folder came from
            materialise(tensors, other.archive_root,
                        self._display(tensors.relative_to(self.root).as_posix()))


@dataclass
class ComponentRecord:
    """What the manifest says about one trained component."""

    key: str
    name: str
    kind: str
    section: str
    config: dict[str, Any]
    fingerprint: str
    #: the plugin that registered the component, as ``dialogflowlite plugins`` names it,
    #: and its package ("" for a built-in one, or a model saved before they were kept):
    #: named when a later installation lacks the component
    plugin: str = ""
    package: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Manifest:
    """The table of contents of a model file."""

    config: dict[str, Any] = field(default_factory=dict)
    components: list[ComponentRecord] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    version: str = __version__
    format: int = FORMAT_VERSION
    project: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dialogflowlite_version": self.version,
            "created": self.created,
            "project": self.project,
            "config": self.config,
            "sections": self.sections,
            "components": [c.to_dict() for c in self.components],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            config=data.get("config") or {},
            components=[ComponentRecord(**c) for c in data.get("components") or []],
            sections=data.get("sections") or {},
            created=data.get("created", 0.0),
            version=data.get("dialogflowlite_version", "?"),
            format=data.get("format", 0),
            project=data.get("project", ""),
        )

    def component(self, key: str) -> ComponentRecord | None:
        return next((c for c in self.components if c.key == key), None)


class ModelArchive:
    """An unpacked model: its manifest and a storage per component."""

    def __init__(self, root: Path, manifest: Manifest, source: Path | None = None,
                 cleanup: bool = False) -> None:
        self.root = root
        self.manifest = manifest
        self.source = source
        self._cleanup = cleanup

    def storage(self, key: str) -> ComponentStorage:
        return ComponentStorage(self.root / key, self.root)

    def has(self, key: str) -> bool:
        return (self.root / key).is_dir()

    def close(self) -> None:
        if self._cleanup and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ModelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ModelWriter:
    """Collects component folders in a work directory, then packs them into one file."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="dfl-model-"))
        self.manifest = Manifest()

    def storage(self, key: str) -> ComponentStorage:
        root = self.workdir / key
        root.mkdir(parents=True, exist_ok=True)
        return ComponentStorage(root, self.workdir)

    def record(self, record: ComponentRecord) -> None:
        self.manifest.components = [c for c in self.manifest.components if c.key != record.key]
        self.manifest.components.append(record)

    def save(self, target: Path) -> Path:
        """Write the manifest and pack everything into ``target`` (a ``.tar`` file)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        (self.workdir / MANIFEST).write_text(
            json.dumps(self.manifest.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        saved = share_duplicate_tensors(self.workdir)
        if saved:
            logger.debug("tensors stored once for several components: %.1f MB saved",
                         saved / 1e6)
        partial = target.with_suffix(target.suffix + ".partial")
        try:
            with tarfile.open(partial, "w") as tar:
                for item in sorted(self.workdir.rglob("*")):
                    # folders too: a component that persists nothing (a plugin policy
                    # without ``persist``) still has its folder, which loading looks for
                    if item.is_file() or item.is_dir():
                        tar.add(item, arcname=str(item.relative_to(self.workdir)),
                                recursive=False)
        except BaseException:
            # stopped (Ctrl-C, SIGTERM) or failed while packing: leave no half-written file
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)  # never leave a half-written model where `run` looks
        return target

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _checked_members(tar: tarfile.TarFile, source: Path) -> Iterator[tarfile.TarInfo]:
    for member in tar.getmembers():
        name = Path(member.name)
        if member.issym() or member.islnk() or not (member.isfile() or member.isdir()):
            raise ModelLoadError(f"model file {source} contains a link or device: {member.name}")
        if name.is_absolute() or ".." in name.parts:
            raise ModelLoadError(f"model file {source} contains an unsafe path: {member.name}")
        if member.isfile() and name.suffix not in ALLOWED_SUFFIXES:
            raise ModelLoadError(
                f"model file {source} contains {member.name}, which is not a data file",
                hint="only JSON, text and safetensors files are loaded from a model")
        yield member


#: files at the top of a model that Rasa trained: ``metadata.json`` (Rasa 3) or
#: ``fingerprint.json`` beside ``core/`` and ``nlu/`` (Rasa 2)
RASA_MODEL_FILES = ("metadata.json", "fingerprint.json")


def _top_level(names: Iterable[str]) -> set[str]:
    """The first path part of each member name (``./metadata.json`` -> ``metadata.json``)."""
    found = set()
    for name in names:
        parts = [part for part in PurePosixPath(name).parts if part not in (".", "")]
        if parts:
            found.add(parts[0])
    return found


def rasa_model_error(source: Path, names: Iterable[str]) -> ModelLoadError | None:
    """The error for a model Rasa trained (it holds ``metadata.json`` or
    ``fingerprint.json`` and no manifest), or None when ``names`` are not Rasa's."""
    top = _top_level(names)
    marker = next((name for name in RASA_MODEL_FILES if name in top), None)
    if MANIFEST in top or marker is None:
        return None
    # Rasa's models hold pickled TensorFlow and scikit-learn objects; they are never
    # unpickled here, so the project is retrained instead
    return ModelLoadError(
        f"model {source} is a Rasa model (it holds {marker}), which dialogflowlite cannot run",
        hint="train the Rasa project here, unchanged, with `dialogflowlite train`; "
             "`shell` and `run` then find the new model under models/")


def _tar_member_problem(source: Path, tar: tarfile.TarFile) -> ModelLoadError | None:
    """Why the packed ``source`` is no model of this framework, or None when it has a
    manifest."""
    names = tar.getnames()
    rasa = rasa_model_error(source, names)
    if rasa is not None:
        return rasa
    if MANIFEST not in _top_level(names):
        return ModelLoadError(f"model file {source} is not a dialogflowlite model: it has no "
                              f"{MANIFEST}", hint="train one with `dialogflowlite train`")
    return None


def _starts_like_an_archive(source: Path) -> bool:
    """Whether ``source`` begins as a gzip file or a tar archive does (a damaged model
    still does; a YAML or JSON file given as the model does not)."""
    try:
        with source.open("rb") as file:
            head = file.read(512)
    except OSError:
        return True  # unreadable: let the caller's message stand
    compressed = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ")  # gzip, bzip2, xz
    return head.startswith(compressed) or head[257:262] == b"ustar"


def _cache_dir(source: Path) -> Path:
    stat = source.stat()
    key = hashlib.sha1(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    return Path(tempfile.gettempdir()) / "dialogflowlite-models" / key[:16]


def open_model(path: str | Path) -> ModelArchive:
    """Unpack (once, into a cache folder) and open a model file or an unpacked folder."""
    source = Path(path)
    if source.is_dir() and not (source / MANIFEST).exists():
        rasa = rasa_model_error(source, (entry.name for entry in source.iterdir()))
        if rasa is not None:
            raise rasa
    if source.is_dir() and (source / MANIFEST).exists():
        root = source
    elif source.is_file():
        root = _cache_dir(source)
        if not (root / MANIFEST).exists():
            staging = Path(tempfile.mkdtemp(prefix="dfl-unpack-", dir=root.parent
                                            if root.parent.exists() else None))
            problem = None
            try:
                with tarfile.open(source, "r:*") as tar:
                    # before unpacking: a Rasa model holds files that are refused below
                    problem = _tar_member_problem(source, tar)
                    if problem is None:
                        tar.extractall(staging, members=list(_checked_members(tar, source)))
            except (tarfile.TarError, OSError, EOFError) as e:
                shutil.rmtree(staging, ignore_errors=True)
                if isinstance(e, tarfile.ReadError) and not _starts_like_an_archive(source):
                    raise ModelLoadError(
                        f"{source} is not a model file (a model is a .tar or .tar.gz "
                        "archive that `dialogflowlite train` writes)",
                        hint="pass a file from the project's models/ folder") from e
                raise ModelLoadError(f"model file {source} is damaged: {e}",
                                     hint="retrain with `dialogflowlite train`") from e
            if problem is not None:
                shutil.rmtree(staging, ignore_errors=True)
                raise problem
            root.parent.mkdir(parents=True, exist_ok=True)
            try:
                staging.replace(root)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)  # another process unpacked it first
    else:
        raise ModelLoadError(f"no model at {source}",
                             hint="train one with `dialogflowlite train`, or pass --model PATH")
    try:
        manifest = Manifest.from_dict(json.loads((root / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as e:
        # the reason alone: an OSError's text names the unpacked copy in the cache
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ModelLoadError(f"model {source} has no readable {MANIFEST}: {reason}",
                             hint="retrain with `dialogflowlite train`") from e
    if manifest.format not in READABLE_FORMATS:
        raise ModelLoadError(
            f"model {source} has format {manifest.format}, this version reads "
            f"{' and '.join(map(str, READABLE_FORMATS))}",
            hint="retrain the model with this version of dialogflowlite")
    return ModelArchive(root, manifest, source)


#: how the file of a model Rasa trained ends (``models/20231201-101500.tar.gz``)
RASA_MODEL_SUFFIX = ".tar.gz"


def _newest_file(folder: Path, suffix: str) -> Path | None:
    """The newest file in ``folder`` whose name ends with ``suffix`` (the name breaks
    ties), or None."""
    candidates = [p for p in folder.glob(f"*{suffix}") if p.is_file()]
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name)) if candidates else None


def latest_model(models_dir: str | Path, *, include_rasa: bool = True) -> Path | None:
    """The newest model file in ``models_dir``, or None.

    A folder with no model of this framework but a model Rasa trained (a
    ``.tar.gz``, as a Rasa project keeps under ``models/``) gives the newest Rasa
    model: opening it (:func:`open_model`) then says that it is a Rasa model and
    how to retrain the project, rather than that there is no model at all.
    ``include_rasa=False`` leaves Rasa's models out, for callers that only look
    for a model to reuse or to decide whether one must be fetched.
    """
    folder = Path(models_dir)
    if folder.is_file():
        return folder
    if not folder.is_dir():
        return None
    newest = _newest_file(folder, MODEL_SUFFIX)
    if newest is None and include_rasa:
        newest = _newest_file(folder, RASA_MODEL_SUFFIX)
    return newest


def read_manifest(path: str | Path) -> Manifest | None:
    """The manifest of a model file or folder without unpacking it; None when unreadable."""
    source = Path(path)
    try:
        if source.is_dir():
            text = (source / MANIFEST).read_text(encoding="utf-8")
        else:
            with tarfile.open(source, "r:*") as tar:
                stream = tar.extractfile(MANIFEST)
                if stream is None:
                    return None
                text = stream.read().decode("utf-8")
        return Manifest.from_dict(json.loads(text))
    except (OSError, KeyError, tarfile.TarError, EOFError, ValueError):
        return None


def latest_model_with(models_dir: str | Path, section: str) -> Path | None:
    """The newest model file in ``models_dir`` whose manifest has ``section`` (``core``)."""
    folder = Path(models_dir)
    if not folder.is_dir():
        return None
    candidates = sorted((p for p in folder.glob(f"*{MODEL_SUFFIX}") if p.is_file()),
                        key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    for candidate in candidates:
        manifest = read_manifest(candidate)
        if manifest is not None and manifest.sections.get(section):
            return candidate
    return None


def check_model_name(name: str, option: str = "--fixed-model-name") -> str:
    """``name`` when it can name a model file inside the models folder (given with ``option``).

    The name is a file name in the output folder (``--out``). Rasa joins it to
    that folder as a path, so ``../x`` or ``/tmp/x`` wrote the model elsewhere;
    here a name with a folder in it (``/``, ``\\``), or that is ``.`` or ``..``,
    is refused with a :class:`ConfigError` naming ``option``, and so is a name
    that is blank or starts or ends with white space (``" "`` wrote ``" .tar"``).
    """
    if not name.strip() or name != name.strip():
        raise ConfigError(f"{option} {name!r}: the model's name is blank or has white space "
                          "at an end", hint=f"give a name such as {option} my-model")
    if "/" in name or "\\" in name or name in (".", ".."):
        stem = PurePosixPath(name.replace("\\", "/")).name.strip(".") or "my-model"
        raise ConfigError(f"{option} {name}: the model's name is a file name, without a folder "
                          "(no `/`, `\\` or `..`)",
                          hint=f"name the file only (such as {option} {stem}) and give the "
                               "folder with --out")
    return name


def fixed_model_file(name: str, option: str = "--fixed-model-name") -> str:
    """The file name of a model named ``name`` by ``option``: ``name`` with ``.tar``.

    The name is checked by :func:`check_model_name` first. A name that already
    ends with ``.tar``, or with Rasa's ``.tar.gz`` (Rasa adds ``.tar.gz`` unless
    the name has it, so Rasa users often give it), loses that ending before
    ``.tar`` is added: ``bot``, ``bot.tar`` and ``bot.tar.gz`` all give
    ``bot.tar``, never ``bot.tar.gz.tar``.
    """
    check_model_name(name, option)
    stem = name
    for suffix in (RASA_MODEL_SUFFIX, MODEL_SUFFIX):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if not stem:
        raise ConfigError(f"{option} {name}: the name is only the file's ending",
                          hint=f"give the model a name, such as {option} my-model")
    return stem + MODEL_SUFFIX


def model_file_name(prefix: str = "") -> str:
    """A new model's file name: the time, after ``prefix-`` (``nlu-20261201-101500.tar``)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{prefix + '-' if prefix else ''}{stamp}{MODEL_SUFFIX}"
