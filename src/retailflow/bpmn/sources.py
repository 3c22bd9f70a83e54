"""Finding the process and decision files a deployment names: files, directories or globs.

Everything is read up front and content-hashed, so a deployment sees one consistent set of bytes
and a missing file is reported before anything is parsed.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from retailflow.bpmn.xml import MAX_BYTES
from retailflow.model import DeploymentError, Finding, Severity

SourceKind = Literal["bpmn", "dmn"]

_SUFFIXES: dict[str, SourceKind] = {
    ".bpmn": "bpmn",
    ".bpmn20.xml": "bpmn",
    ".dmn": "dmn",
    ".dmn11.xml": "dmn",
}
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The bytes of one ``.bpmn`` or ``.dmn`` file, named as the deployment named it."""

    name: str
    content: bytes
    content_hash: str
    kind: SourceKind

    @classmethod
    def of(cls, name: str, content: bytes, kind: SourceKind | None = None) -> SourceFile:
        """A source from bytes in memory; ``kind`` defaults to what the name's suffix says."""
        resolved = kind or kind_of(name)
        if resolved is None:
            raise DeploymentError([_unknown_type(name)])
        return cls(name, content, hashlib.sha256(content).hexdigest(), resolved)


def kind_of(name: str) -> SourceKind | None:
    """``bpmn`` or ``dmn`` from a file name's suffix (``.bpmn``, ``.bpmn20.xml``, ``.dmn``)."""
    lowered = name.lower()
    return next((kind for suffix, kind in _SUFFIXES.items() if lowered.endswith(suffix)), None)


def load_sources(paths: Sequence[str | Path], *, max_bytes: int = MAX_BYTES) -> list[SourceFile]:
    """Read every file the paths name, in a stable order, or raise ``DeploymentError``
    listing every path that could not be read (``file-not-found``, ``file-type-unknown``,
    ``xml-too-large``): a deployment takes all of them or none.

    A path is a file, a directory (every ``*.bpmn`` and ``*.dmn`` below it, sorted) or a glob.
    A file reached twice is read once.
    """
    sources, findings = read_sources(paths, max_bytes=max_bytes)
    if findings:
        raise DeploymentError(findings)
    return sources


def read_sources(
    paths: Sequence[str | Path], *, max_bytes: int = MAX_BYTES
) -> tuple[list[SourceFile], list[Finding]]:
    """What ``load_sources`` reads, and the findings of the paths it could not read, side by
    side: a linter reports both, so that one bad path hides nothing else."""
    findings: list[Finding] = []
    files: list[Path] = []
    for path in paths:
        try:
            files.extend(_expand(Path(path), findings))
        except (OSError, ValueError) as error:
            findings.append(_not_found(str(path), f"cannot be read: {error}"))
    sources: list[SourceFile] = []
    seen: set[Path] = set()
    for file in files:
        try:
            resolved = file.resolve()
        except (OSError, RuntimeError):
            resolved = file.absolute()
        if resolved in seen:
            continue
        seen.add(resolved)
        source = _read(file, max_bytes, findings)
        if source is not None:
            sources.append(source)
    return sources, findings


def _expand(path: Path, findings: list[Finding]) -> list[Path]:
    name = path.as_posix()
    if path.is_dir():
        found = sorted(file for file in path.rglob("*") if file.is_file() and kind_of(file.name))
        if not found:
            findings.append(_not_found(name, "the directory holds no .bpmn or .dmn files"))
        return found
    if path.is_file():
        if kind_of(path.name) is None:
            findings.append(_unknown_type(name))
            return []
        return [path]
    if _GLOB_CHARACTERS.intersection(name):
        matches = sorted(Path(match) for match in glob.glob(name, recursive=True))
        found = [match for match in matches if match.is_file() and kind_of(match.name)]
        for directory in (match for match in matches if match.is_dir()):
            found.extend(_expand(directory, findings))
        if not found:
            findings.append(_not_found(name, "the pattern matches no .bpmn or .dmn files"))
        return found
    findings.append(_not_found(name, "no such file or directory"))
    return []


def _read(file: Path, max_bytes: int, findings: list[Finding]) -> SourceFile | None:
    name = file.as_posix()
    try:
        size = file.stat().st_size
        if size > max_bytes:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "xml-too-large",
                    f"the file is {size:,} bytes, over the limit of {max_bytes:,}",
                    file=name,
                    hint="split the diagram into called processes, or raise the limit",
                )
            )
            return None
        content = file.read_bytes()
    except OSError as error:
        findings.append(_not_found(name, f"cannot be read: {error.strerror or error}"))
        return None
    return SourceFile.of(name, content)


def _not_found(name: str, why: str) -> Finding:
    return Finding(
        Severity.ERROR,
        "file-not-found",
        f"{name}: {why}",
        file=name,
        hint="check the path and its permissions",
    )


def _unknown_type(name: str) -> Finding:
    return Finding(
        Severity.ERROR,
        "file-type-unknown",
        "only .bpmn and .dmn files (or .bpmn20.xml / .dmn11.xml) can be deployed",
        file=name,
        hint="rename the file with a .bpmn or .dmn suffix",
    )
