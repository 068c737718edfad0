"""CryoSPARC job directories (``J<n>/restack`` or ``J<n>/downsample``) → ParticleMetadata."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import InputFileError, MetadataError, spelled
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.readers.cryosparc.container import load_cs_table
from cryolike_convert.readers.cryosparc.indexed import read_cryosparc_metadata
from cryolike_convert.readers.cryosparc.join import join_on_uid
from cryolike_convert.readers.detect import (
    job_folder_number,
    no_restack_message,
    parse_job_number,
)
from cryolike_convert.readers.mrc import inspect_stack
from cryolike_convert.readers.result import ReadResult

#: Image sub-folder → the word in its file names, in order of preference.
IMAGE_FOLDERS: dict[str, str] = {"restack": "restacked", "downsample": "downsample"}


@dataclass(frozen=True, slots=True)
class JobFiles:
    """The files of one job: metadata, image folder, stacks read, stacks ignored."""

    job_dir: Path
    metadata_file: Path
    image_dir: Path
    stacks: list[Path]
    ignored: list[Path]


def locate_job_dir(
    folder_cryosparc: str | os.PathLike[str], job_number: int | str
) -> Path:
    """The job folder: ``folder_cryosparc/J<n>``, or ``folder_cryosparc`` itself.

    ``job_number`` is ``n``, ``'n'`` or ``'J<n>'``. When ``folder_cryosparc`` is
    the job folder ``J<n>`` (without a ``J<n>`` inside), it is used as it is;
    ``job_number`` 0 (CryoLike's default) then takes ``n`` from its name.

    Raises
    ------
    InputFileError
        If the job folder does not exist.
    OptionError
        If ``job_number`` is not of the form ``n`` or ``J<n>``.
    """
    folder = Path(folder_cryosparc or ".").expanduser()
    number = parse_job_number(job_number)
    own = job_folder_number(folder)
    if own is not None and number in (own, 0) and not (folder / f"J{number}").is_dir():
        return folder
    job_dir = folder / f"J{number}"
    if not job_dir.is_dir():
        raise InputFileError(
            f"{job_dir}: job folder not found "
            f"({spelled(f'folder_cryosparc/J{number}', f'FOLDER/J{number}')})"
        )
    return job_dir


def find_job_files(
    folder_cryosparc: str | os.PathLike[str], job_number: int | str
) -> JobFiles:
    """Locate a job's passthrough ``.cs`` file and its numbered stacks.

    ``J<n>_passthrough_particles.cs`` and ``batch_000000_*.mrc``, … up to the first
    missing number; later files are listed as ignored. The job folder is found
    by :func:`locate_job_dir`.

    Raises
    ------
    InputFileError
        Naming the paths looked for when the job folder, the ``.cs`` file, both
        image folders or the first stack are missing; a job without restacked
        images (a selection job, say) gets a pointer to its particle file.
    """
    job_dir = locate_job_dir(folder_cryosparc, job_number)
    found = [name for name in IMAGE_FOLDERS if (job_dir / name).is_dir()]
    if not found:
        raise InputFileError(no_restack_message(job_dir))
    metadata_file = job_dir / f"{job_dir.name}_passthrough_particles.cs"
    if not metadata_file.is_file():
        raise InputFileError(
            f"{metadata_file}: the job's particle metadata file is missing"
        )
    image_dir, word = job_dir / found[0], IMAGE_FOLDERS[found[0]]
    stacks: list[Path] = []
    while (image_dir / f"batch_{len(stacks):06d}_{word}.mrc").is_file():
        stacks.append(image_dir / f"batch_{len(stacks):06d}_{word}.mrc")
    if not stacks:
        raise InputFileError(
            f"{image_dir / f'batch_000000_{word}.mrc'}: first image stack is missing"
        )
    pattern = re.compile(rf"^batch_(\d+)_{word}\.mrc$")
    ignored = sorted(
        path
        for path in image_dir.iterdir()
        if (match := pattern.match(path.name)) and int(match.group(1)) > len(stacks)
    )
    return JobFiles(job_dir, metadata_file, image_dir, stacks, ignored)


def _with_pixel_size(files: JobFiles, metadata: ParticleMetadata) -> ParticleMetadata:
    """Take ``blob/psize_A`` from ``J<n>_particles.cs`` when the passthrough lacks it."""
    if metadata.pixel_size_angstrom is not None:
        return metadata
    sibling = files.job_dir / f"{files.job_dir.name}_particles.cs"
    if not sibling.is_file():
        return metadata
    partner = load_cs_table(sibling)
    if "blob/psize_A" not in (partner.dtype.names or ()) or metadata.uid is None:
        return metadata
    table = np.zeros(len(metadata), dtype=[("uid", "<u8")])
    table["uid"] = metadata.uid
    joined = join_on_uid(files.metadata_file, table, sibling, partner, ["blob/psize_A"])
    return dataclasses.replace(
        metadata, pixel_size_angstrom=np.array(joined["blob/psize_A"])
    )


def read_cryosparc_job(
    folder_cryosparc: str | os.PathLike[str], job_number: int | str
) -> ReadResult:
    """Read a job folder ``folder_cryosparc/J<job_number>``.

    See :func:`find_job_files` and :func:`read_job_metadata`. Stored paths are
    ``restack/<file>`` (or ``downsample/<file>``), looked for in the job folder.

    Raises
    ------
    ConversionError
        As :func:`find_job_files` and :func:`read_job_metadata`.
    """
    files = find_job_files(folder_cryosparc, job_number)
    metadata, surplus = read_job_metadata(files)
    notes = tuple(
        f"{path}: not read — batch_{len(files.stacks):06d} is missing and reading "
        "stops at the first gap"
        for path in files.ignored
    )
    return ReadResult(
        mode="cryosparc_job",
        metadata=metadata,
        metadata_files=(files.metadata_file,),
        search_dirs=(("job_dir", files.job_dir),),
        details={
            "stacks": [str(path.resolve()) for path in files.stacks],
            "ignored_stacks": [str(path.resolve()) for path in files.ignored],
        },
        rows_without_images=tuple(surplus),
        notes=notes,
    )


def read_job_metadata(
    files: JobFiles,
) -> tuple[ParticleMetadata, list[dict[str, Any]]]:
    """Rows of the passthrough file, consumed in sequence by the stacks' images.

    Returns the metadata of the rows that have an image and a report entry for the
    surplus rows (the ``.cs`` may describe more images than the stacks hold).

    Raises
    ------
    MetadataError
        If the stacks hold more images than the ``.cs`` has rows.
    """
    metadata = _with_pixel_size(
        files, read_cryosparc_metadata(files.metadata_file, need_blob=False)
    )
    counts = [inspect_stack(path).n_images for path in files.stacks]
    n_images = int(sum(counts))
    if n_images > len(metadata):
        raise MetadataError(
            f"{files.metadata_file}: has {len(metadata)} rows but the {len(files.stacks)} "
            f"stack(s) in {files.image_dir} hold {n_images} images; every image needs a row",
            path=files.metadata_file,
        )
    surplus = (
        [
            {
                "rows": [[n_images, len(metadata)]],
                "reason": (
                    f"no image: the stacks in {files.image_dir.name}/ hold only {n_images} images"
                ),
            }
        ]
        if n_images < len(metadata)
        else []
    )
    metadata = metadata.take(np.arange(n_images))
    stored = np.repeat(
        [f"{files.image_dir.name}/{path.name}" for path in files.stacks], counts
    )
    index = np.concatenate([np.arange(count, dtype=np.int64) for count in counts])
    metadata = dataclasses.replace(
        metadata,
        stored_path=stored,
        stored_index=index,
        stack_index=index,
    )
    return metadata, surplus
