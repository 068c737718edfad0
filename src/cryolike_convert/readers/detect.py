"""What an input path is: a ``.cs`` file, a ``.csg`` group, a STAR file or a job folder.

Detection looks at the bytes and the folder layout, never only at the name, so a
misnamed file is still recognised; and every reader uses it to say what to run
instead when it is handed the wrong kind of input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryolike_convert.errors import InputFileError, spelled
from cryolike_convert.options import OptionError

FileKind = Literal["cs", "csg", "star", "mrc", "unknown"]
InputKind = Literal["cryosparc", "cryosparc_job", "star"]

_CS_MAGICS = (b"\x93NUMPY", b"\x95CSDAT")
_MRC_MAP = b"MAP "
_SNIFF_BYTES = 8192
_JOB_NAME = re.compile(r"^[Jj](\d+)$")
_JOB_TEXT = re.compile(r"^\s*[Jj]?(\d+)\s*$")
#: Folders of a job that hold its restacked (or downsampled) particle images.
JOB_IMAGE_FOLDERS = ("restack", "downsample")
_PAIRED = spelled(
    "particle_file_list / star_file_list",
    "cryolike-convert star-pairs --mrc ... --star ...",
)
#: Listed before the rest is counted.
_LISTED = 8


@dataclass(frozen=True, slots=True)
class DetectedInput:
    """What a conversion input is, and what the matching reader needs.

    Attributes
    ----------
    kind
        ``'cryosparc'`` (one or more ``.cs`` files, or a ``.csg`` group),
        ``'cryosparc_job'`` (a job folder with ``restack/`` or ``downsample/``)
        or ``'star'``.
    paths
        The metadata files (``cryosparc``, ``star``); the job folder itself for
        ``cryosparc_job``.
    project_dir
        For ``cryosparc_job``: the folder holding ``J<n>``.
    job_number
        For ``cryosparc_job``: ``n``.
    """

    kind: InputKind
    paths: tuple[Path, ...]
    project_dir: Path | None = None
    job_number: int | None = None


def sniff_file(path: str | os.PathLike[str]) -> FileKind:
    """The kind of a file, from its first bytes (and the ``.csg`` suffix).

    ``cs``: numpy ``.npy`` or CryoSPARC CSDAT; ``mrc``: an MRC file (``MAP `` at
    byte 208); ``csg``: YAML naming ``metafile`` entries; ``star``: text with a
    ``data_`` block. Unreadable files are ``unknown``.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return "unknown"
    if head.startswith(_CS_MAGICS):
        return "cs"
    if head[208:212] == _MRC_MAP:
        return "mrc"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown"
    lines = [line.strip() for line in text.splitlines()]
    if any(line.startswith("metafile:") for line in lines) and any(
        line == "results:" for line in lines
    ):
        return "csg"
    if any(line.startswith("data_") for line in lines):
        return "star"
    return "unknown"


def parse_job_number(job: str | int) -> int:
    """``J4``, ``j4``, ``4`` or ``4`` (int) → 4.

    Raises
    ------
    OptionError
        If ``job`` is not of that form.
    """
    if isinstance(job, int) and not isinstance(job, bool) and job >= 0:
        return job
    match = _JOB_TEXT.match(str(job))
    if match is None:
        raise OptionError(
            f"{spelled('job_number', '--job')} {job!r} is not a CryoSPARC job; "
            "expected J<n> or n (for example J4 or 4)"
        )
    return int(match.group(1))


def job_folder_number(folder: Path) -> int | None:
    """``n`` when ``folder`` is named ``J<n>``, else ``None``."""
    match = _JOB_NAME.match(folder.name)
    return int(match.group(1)) if match else None


def _jobs_in(folder: Path) -> list[str]:
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    jobs = [
        child
        for child in children
        if child.is_dir() and job_folder_number(child) is not None
    ]
    jobs.sort(key=lambda child: job_folder_number(child) or 0)
    return [
        job.name
        for job in jobs
        if any((job / name).is_dir() for name in JOB_IMAGE_FOLDERS)
    ]


def particle_files(job_dir: Path) -> list[Path]:
    """The ``.csg`` and ``.cs`` files of a job folder: groups, then the rest.

    ``.csg`` groups name a job's final result, so they come first; passthrough
    files come last.
    """
    try:
        files = sorted(
            path
            for path in job_dir.iterdir()
            if path.suffix in (".cs", ".csg") and path.is_file()
        )
    except OSError:
        return []
    return sorted(
        files, key=lambda path: ("passthrough" in path.name, path.suffix != ".csg")
    )


def how_to_convert(kind: InputKind, path: Path) -> str:
    """What to run to convert ``path`` as ``kind``, in both spellings."""
    if kind == "cryosparc_job":
        number = job_folder_number(path)
        return spelled(
            "convert_particle_stacks_from_cryosparc_job_directory("
            f"folder_cryosparc='{path.parent}', job_number={number})",
            f"cryolike-convert {path} (or cryolike-convert cryosparc-job {path})",
        )
    if kind == "star":
        return spelled(
            f"convert_particle_stacks_from_indexed_star_file(star_file='{path}')",
            f"cryolike-convert {path} (or cryolike-convert star {path})",
        )
    return spelled(
        f"convert_particle_stacks_from_indexed_cryosparc_file(file_cs='{path}')",
        f"cryolike-convert {path} (or cryolike-convert cryosparc {path})",
    )


def describe_mismatch(path: Path, expected: str) -> str | None:
    """Why ``path`` is not ``expected`` and what to run instead, or ``None``.

    Parameters
    ----------
    path
        The input that a reader could not read.
    expected
        What the reader wanted, for the message (``'a CryoSPARC .cs file'``).

    Returns
    -------
    str or None
        ``"<path>: is <kind>, not <expected>; convert it with <command>"``, or
        ``None`` when the input is not recognisably something else.
    """
    if path.is_dir():
        if job_folder_number(path) is not None:
            return (
                f"{path}: is a CryoSPARC job folder, not {expected}; convert it with "
                f"{how_to_convert('cryosparc_job', path)}"
            )
        return f"{path}: is a folder, not {expected}"
    kind = sniff_file(path)
    if kind == "star":
        return (
            f"{path}: is a RELION STAR file, not {expected}; convert it with "
            f"{how_to_convert('star', path)}"
        )
    if kind in ("cs", "csg"):
        what = "a CryoSPARC .cs file" if kind == "cs" else "a CryoSPARC .csg group"
        return (
            f"{path}: is {what}, not {expected}; convert it with "
            f"{how_to_convert('cryosparc', path)}"
        )
    if kind == "mrc":
        return (
            f"{path}: is an MRC image stack, not {expected}; convert the metadata "
            "file that lists its particles (.cs or .star), or pair it with its own "
            f"STAR file ({_PAIRED})"
        )
    return None


def detect_input(
    paths: Sequence[str | os.PathLike[str]], job: str | int | None = None
) -> DetectedInput:
    """Recognise a conversion input from its path(s).

    One ``.cs`` (npy or CSDAT) or ``.csg`` file, or several ``.cs`` files (the
    main file and its passthrough files, joined on ``uid``): ``cryosparc``. A
    STAR file: ``star``. A job folder ``J<n>`` with ``restack/`` or
    ``downsample/``, or its parent together with ``job``: ``cryosparc_job``.

    Parameters
    ----------
    paths
        The input path(s).
    job
        A job (``J4`` or ``4``) inside the folder ``paths[0]``.

    Returns
    -------
    DetectedInput

    Raises
    ------
    InputFileError
        Saying what the input is and what to pass instead, when it is not a
        conversion input: a missing path, an MRC stack, a project folder
        without ``job``, a job without restacked images (with a pointer to its
        particle files), or a mix of kinds.
    OptionError
        If ``job`` is not ``J<n>`` or ``n``.
    """
    files = [Path(path).expanduser() for path in paths]
    if not files:
        raise InputFileError("no input given; expected a .cs, .csg or .star file")
    missing = [str(path) for path in files if not path.exists()]
    if missing:
        raise InputFileError(f"{', '.join(missing)}: not found")
    if job is not None or files[0].is_dir():
        if len(files) > 1:
            raise InputFileError(
                f"{files[0]}: a job folder is converted on its own; give one folder"
            )
        return _detect_job(files[0], job)
    kinds = [sniff_file(path) for path in files]
    for path, kind in zip(files, kinds, strict=True):
        if path.is_dir() or kind in ("mrc", "unknown"):
            raise InputFileError(
                describe_mismatch(path, "a .cs, .csg or .star file")
                or f"{path}: is not a CryoSPARC .cs/.csg file or a RELION STAR file"
            )
    if kinds == ["star"]:
        return DetectedInput("star", tuple(files))
    if "star" in kinds:
        raise InputFileError(
            "a STAR file is converted on its own; several files must all be "
            f"CryoSPARC .cs files (got {', '.join(str(p) for p in files)})"
        )
    if "csg" in kinds and len(files) > 1:
        raise InputFileError(
            f"{files[kinds.index('csg')]}: a .csg group names its own .cs files; "
            "give it alone"
        )
    return DetectedInput("cryosparc", tuple(files))


def _detect_job(folder: Path, job: str | int | None) -> DetectedInput:
    if not folder.is_dir():
        raise InputFileError(f"{folder}: is not a folder; a job is J<n> in a project")
    own = job_folder_number(folder)
    number = parse_job_number(job) if job is not None else own
    if number is None:
        jobs = _jobs_in(folder)
        found = (
            f"jobs here with restacked particles: {', '.join(jobs[:_LISTED])}"
            + (f" … ({len(jobs)} in all)" if len(jobs) > _LISTED else "")
            if jobs
            else "no J<n> folder here has restack/ or downsample/"
        )
        raise InputFileError(
            f"{folder}: is a folder but not a CryoSPARC job folder J<n>; name the "
            f"job with {spelled('job_number=4', '--job J4')} ({found})"
        )
    job_dir = (
        folder
        if own == number and not (folder / f"J{number}").is_dir()
        else (folder / f"J{number}")
    )
    if not job_dir.is_dir():
        raise InputFileError(f"{job_dir}: job folder not found (J{number} in {folder})")
    if not any((job_dir / name).is_dir() for name in JOB_IMAGE_FOLDERS):
        raise InputFileError(no_restack_message(job_dir))
    return DetectedInput(
        "cryosparc_job", (job_dir,), project_dir=job_dir.parent, job_number=number
    )


def no_restack_message(job_dir: Path) -> str:
    """The error for a job without ``restack/``/``downsample/``, with a pointer.

    The pointer names the job's particles file (not a passthrough file, which
    lacks the image locations), as the command to run.
    """
    looked = " or ".join(str(job_dir / name) for name in JOB_IMAGE_FOLDERS)
    text = f"{job_dir}: holds no image folder; looked for {looked}"
    files = [path for path in particle_files(job_dir) if "passthrough" not in path.name]
    if not files:
        return text
    listed = ", ".join(path.name for path in files[:_LISTED])
    return (
        f"{text}. Its particles were not restacked (a selection or refinement "
        "job?), so convert its particles file, which lists where each image is: "
        f"{how_to_convert('cryosparc', files[0])} (particle files here: {listed})"
    )


__all__ = [
    "JOB_IMAGE_FOLDERS",
    "DetectedInput",
    "FileKind",
    "InputKind",
    "describe_mismatch",
    "detect_input",
    "how_to_convert",
    "job_folder_number",
    "no_restack_message",
    "parse_job_number",
    "particle_files",
    "sniff_file",
]
