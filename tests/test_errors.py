"""Messages that name options in the caller's language."""

from __future__ import annotations

import pickle

import pytest

from cryolike_convert.errors import (
    OVERWRITE,
    ConversionError,
    ConversionWarning,
    OutputExistsError,
    render,
    spelled,
)
from cryolike_convert.options import ConversionOptions, OptionError, option_name


def test_spelled_text_renders_per_audience() -> None:
    text = f"pass {spelled('on_missing=' + repr('skip'), '--skip-missing')} to go on"
    assert render(text) == "pass on_missing='skip' to go on"
    assert render(text, "python") == "pass on_missing='skip' to go on"
    assert render(text, "cli") == "pass --skip-missing to go on"
    assert render("no options here", "cli") == "no options here"


def test_errors_show_python_and_offer_the_cli_spelling() -> None:
    error = OutputExistsError(f"/out: exists; pass {OVERWRITE}")
    assert str(error) == "/out: exists; pass overwrite=True"
    assert error.for_cli() == "/out: exists; pass --overwrite"
    assert isinstance(error, FileExistsError)
    copy = pickle.loads(pickle.dumps(error))  # workers send errors back
    assert copy.for_cli() == "/out: exists; pass --overwrite"
    plain = ConversionError("no option")
    assert str(plain) == plain.for_cli() == "no option"


def test_warnings_render_too() -> None:
    warning = ConversionWarning(f"consider {spelled('workers=2', '--workers 2')}")
    assert str(warning) == "consider workers=2"
    assert warning.for_cli() == "consider --workers 2"


@pytest.mark.parametrize(
    ("options", "python", "cli"),
    [
        ({"overwrite": True, "resume": True}, "overwrite and skip_exist", "--resume"),
        ({"batch_size": 0}, "batch_size must be ≥ 1", "--batch-size must be ≥ 1"),
        ({"pixel_size_angstrom": -1.0}, "pixel_size must be > 0", "--pixel-size"),
        ({"downsample_factor": 2, "downsample_box": 64}, "downsample_box", "--box"),
        ({"scheduler_address": "tcp://x:1"}, "executor='dask'", "--executor dask"),
    ],
)
def test_option_errors_name_the_wrapper_keyword_or_the_flag(
    options: dict[str, object], python: str, cli: str
) -> None:
    with pytest.raises(OptionError) as info:
        ConversionOptions(**options)  # type: ignore[arg-type]
    assert python in str(info.value)
    assert cli in info.value.for_cli()
    assert "\ue000" not in str(info.value) + info.value.for_cli()


def test_option_names() -> None:
    assert render(option_name("downsample_factor"), "cli") == "--downsample"
    assert render(option_name("resume")) == "skip_exist"
