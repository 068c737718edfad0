"""Every plot type, drawn from synthetic data: axes ranges, labels and colour bars."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output.plots import (
    LensValues,
    ctf_figure,
    fourier_montage_figure,
    image_labels,
    physical_montage_figure,
    power_spectrum_figure,
    sample_description,
    save_figure,
    save_stack_plots,
)
from cryolike_convert.testing import make_projections
from cryolike_convert.testing.ctf import make_ctf_projections
from cryolike_convert.transform.engine import images_to_fourier_polar
from cryolike_convert.transform.preprocess import center_images
from cryolike_convert.transform.spectrum import (
    PowerSpectrum,
    shell_frequencies_per_angstrom,
)

BOX, PIXEL = 48, 1.5


def _colour_bars(figure: Figure) -> list[Axes]:
    return [axis for axis in figure.axes if axis.get_label() == "<colorbar>"]


def _image_axes(figure: Figure) -> list[Axes]:
    return [
        axis for axis in figure.axes if axis.get_label() != "<colorbar>" and axis.axison
    ]


@pytest.fixture(scope="module")
def descriptor() -> ImageDescriptor:
    return ImageDescriptor.from_individual_values(n_pixels=BOX, pixel_size=PIXEL)


@pytest.fixture(scope="module")
def stack(descriptor: ImageDescriptor) -> tuple[np.ndarray, np.ndarray]:
    """20 centred CTF-modulated images and their polar Fourier transforms."""
    n = 20
    rng = np.random.default_rng(1)
    defocus = rng.uniform(12000, 15000, size=n)
    images = center_images(
        make_ctf_projections(defocus + 300, defocus, np.zeros(n), BOX, PIXEL, seed=2)
    )
    return images, images_to_fourier_polar(images, descriptor.polar_grid)


def test_labels_and_sample_descriptions() -> None:
    uids = np.array([18446744073709551615, 7], dtype=np.uint64)
    assert image_labels(np.array([1234, 5])) == ["row 1,234", "row 5"]
    assert image_labels(np.array([0, 1]), uids) == [
        "row 0\nuid 18446744073709551615",
        "row 1\nuid 7",
    ]
    assert sample_description(16, 2000, "evenly spaced") == (
        "16 of 2,000 images, evenly spaced"
    )
    assert sample_description(16, 16, "evenly spaced") == "all 16 images"
    assert sample_description(1, 1, "x") == "all 1 image"


def test_physical_montage_is_labelled_in_order_with_a_colour_bar(
    stack: tuple[np.ndarray, np.ndarray],
) -> None:
    images = stack[0]
    labels = image_labels(np.arange(100, 120))
    figure = physical_montage_figure(images, labels, "16 of 20 images, the first")
    panels = _image_axes(figure)
    assert [axis.get_title() for axis in panels] == labels[:16]
    for axis, image in zip(panels, images, strict=False):
        np.testing.assert_array_equal(axis.images[0].get_array(), image)
        assert axis.images[0].origin == "lower"
    (bar,) = _colour_bars(figure)
    low, high = bar.get_ylim()
    assert low < 0 < high  # centred images: mean 0
    assert "pixel value" in bar.get_ylabel()
    assert figure.get_suptitle() == "16 of 20 images, the first"


def test_fourier_montage_spans_the_frequency_plane(
    descriptor: ImageDescriptor, stack: tuple[np.ndarray, np.ndarray]
) -> None:
    fourier = stack[1][:5]
    labels = image_labels(np.arange(5), np.arange(5, dtype=np.uint64) + 10)
    figure = fourier_montage_figure(fourier, descriptor, labels, "all 5 images")
    panels = _image_axes(figure)
    assert [axis.get_title() for axis in panels] == labels
    nyquist = 1 / (2 * PIXEL)
    for axis in panels:
        assert axis.get_xlim() == pytest.approx((-nyquist, nyquist))
        assert axis.get_ylim() == pytest.approx((-nyquist, nyquist))
    first = panels[0].collections[0].get_array()
    np.testing.assert_allclose(
        np.asarray(first).reshape(fourier.shape[1:]),
        np.log10(np.abs(fourier[0]) + 1e-12),
        rtol=1e-6,
    )
    (bar,) = _colour_bars(figure)
    assert bar.get_ylabel() == "log10 |F| (normalised)"
    assert "Nyquist 0.333 1/Å" in figure.get_suptitle()


def test_power_spectrum_runs_from_one_over_the_box_to_nyquist(
    descriptor: ImageDescriptor, stack: tuple[np.ndarray, np.ndarray]
) -> None:
    power = PowerSpectrum()
    power.add(stack[1])
    figure = power_spectrum_figure(power, descriptor, "mean of all 20 images")
    radial, plane = _image_axes(figure)
    box_angstrom = BOX * PIXEL
    assert radial.get_xlim() == pytest.approx((1 / box_angstrom, 1 / (2 * PIXEL)))
    assert radial.get_xscale() == "linear"
    assert radial.get_yscale() == "log"
    assert radial.get_xlabel() == "spatial frequency (1/Å)"
    # The curve holds the shells from 1/box on, each at 2 r / box.
    frequencies = shell_frequencies_per_angstrom(descriptor.polar_grid, box_angstrom)
    line = radial.get_lines()[0]
    visible = frequencies >= 1 / box_angstrom
    np.testing.assert_allclose(np.asarray(line.get_xdata()), frequencies[visible])
    direct = (np.abs(stack[1].astype(np.complex128)) ** 2).mean(axis=(0, 2))
    np.testing.assert_allclose(np.asarray(line.get_ydata()), direct[visible], rtol=1e-5)
    # Å labels on the top axis, inside the plotted range and in Å.
    (top,) = radial.child_axes
    assert top.get_xlabel() == "resolution (Å)"
    ticks = [float(text.get_text()) for text in top.get_xticklabels()]
    assert ticks
    assert all(2 * PIXEL <= tick <= box_angstrom for tick in ticks)
    assert ticks == sorted(ticks, reverse=True)
    # The 2-D spectrum: the frequency plane to ±Nyquist, with a colour bar.
    nyquist = 1 / (2 * PIXEL)
    assert plane.get_xlim() == pytest.approx((-nyquist, nyquist))
    assert plane.get_ylim() == pytest.approx((-nyquist, nyquist))
    assert "1/Å" in plane.get_xlabel()
    assert "1/Å" in plane.get_ylabel()
    (bar,) = _colour_bars(figure)
    assert bar.get_ylabel() == "log10 mean |F|²"


def test_2d_spectrum_has_the_orientation_of_the_physical_images(
    descriptor: ImageDescriptor,
) -> None:
    """Stripes that vary along columns put their power on the horizontal axis."""
    cycles = 8
    columns = np.arange(BOX)
    stripes = np.cos(2 * np.pi * cycles * columns / BOX)[None, :] * np.ones((BOX, 1))
    power = PowerSpectrum()
    power.add(
        images_to_fourier_polar(stripes[None].astype(np.float32), descriptor.polar_grid)
    )
    plane = _image_axes(power_spectrum_figure(power, descriptor, "t"))[1]
    mesh = cast(QuadMesh, plane.collections[0])
    values = np.asarray(mesh.get_array()).reshape(power.mean().shape)
    corners = np.asarray(mesh.get_coordinates())
    shell, angle = (int(i) for i in np.unravel_index(np.argmax(values), values.shape))
    centre = corners[shell : shell + 2, angle : angle + 2].reshape(4, 2).mean(axis=0)
    frequency = cycles / (BOX * PIXEL)
    spacing = float(
        np.diff(
            shell_frequencies_per_angstrom(descriptor.polar_grid, BOX * PIXEL)
        ).max()
    )
    assert abs(abs(centre[0]) - frequency) < spacing  # along columns (across)
    assert abs(centre[1]) < spacing  # not along rows (up)


def test_power_spectrum_of_a_grid_beyond_nyquist_marks_nyquist(
    stack: tuple[np.ndarray, np.ndarray],
) -> None:
    wide = ImageDescriptor.from_individual_values(
        n_pixels=BOX, pixel_size=PIXEL, resolution_factor=1.5
    )
    power = PowerSpectrum()
    power.add(images_to_fourier_polar(stack[0], wide.polar_grid))
    radial = _image_axes(power_spectrum_figure(power, wide, "t"))[0]
    outer = shell_frequencies_per_angstrom(wide.polar_grid, BOX * PIXEL)[-1]
    assert outer > 1.4 / (2 * PIXEL)
    assert radial.get_xlim()[1] == pytest.approx(outer)
    marks = [np.asarray(line.get_xdata())[0] for line in radial.get_lines()[1:]]
    assert marks == [pytest.approx(1 / (2 * PIXEL))]


def _lens(n: int, seed: int = 0) -> LensValues:
    rng = np.random.default_rng(seed)
    defocus_v = rng.uniform(9000, 21000, size=n)
    return LensValues(
        defocus_u_angstrom=defocus_v + rng.uniform(0, 700, size=n),
        defocus_v_angstrom=defocus_v,
        defocus_angle_rad=rng.uniform(-np.pi / 2, np.pi / 2, size=n),
        phase_shift_rad=np.zeros(n),
        voltage_kv=np.array([300.0, 300.0, 200.0]),
        spherical_aberration_mm=np.array([2.7, 2.7, 2.7]),
        amplitude_contrast_fraction=np.array([0.1, 0.1, 0.07]),
        n_images_per_stack=np.array([n - 3, 2, 1]),
    )


def test_ctf_panels_show_defocus_astigmatism_angle_and_optics() -> None:
    lens = _lens(7)
    figure = ctf_figure(lens, "CTF parameters of 7 images")
    defocus, astigmatism, angle, optics = figure.axes
    # Integer count ticks on a small set.
    for axis in (defocus, astigmatism, angle):
        ticks = axis.get_yticks()
        assert np.allclose(ticks, np.round(ticks))
        assert axis.get_ylabel() == "images"
    assert len(defocus.patches) == 2  # the U and the V outline
    legend = defocus.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "defocus U",
        "defocus V",
    ]
    low, high = defocus.get_xlim()
    assert low <= lens.defocus_v_angstrom.min()
    assert lens.defocus_u_angstrom.max() <= high
    difference = np.abs(lens.defocus_u_angstrom - lens.defocus_v_angstrom)
    x_low, x_high = astigmatism.get_xlim()
    assert x_low <= difference.min()
    assert difference.max() <= x_high
    assert "|U − V|" in astigmatism.get_xlabel()
    degrees = np.degrees(lens.defocus_angle_rad)
    x_low, x_high = angle.get_xlim()
    assert x_low <= degrees.min()
    assert degrees.max() <= x_high
    assert "°" in angle.get_xlabel()
    (text,) = optics.texts
    listed = text.get_text()
    assert "images: 7 in 3 stack(s)" in listed
    assert "voltage: 300 kV (6 images), 200 kV (1 images)" in listed
    assert "spherical aberration Cs: 2.7 mm" in listed
    assert "amplitude contrast: 0.1 (6 images), 0.07 (1 images)" in listed
    assert "phase shift: 0°" in listed


def test_ctf_histograms_count_every_image() -> None:
    lens = _lens(500, seed=1)
    figure = ctf_figure(lens, "t")
    astigmatism = figure.axes[1]
    # A step histogram's outline: counts are the heights of its vertices.
    outline = cast(Polygon, astigmatism.patches[0]).get_xy()
    heights = outline[1:-1:2, 1]
    assert heights.sum() == 500


def test_save_figure_writes_a_png(tmp_path: Path) -> None:
    images = make_projections(4, 16)
    figure = physical_montage_figure(images, image_labels(np.arange(4)), "t")
    save_figure(figure, tmp_path / "a" / "montage.png")
    assert (tmp_path / "a" / "montage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "a").glob("*.tmp*"))


def test_stack_plots_are_the_three_reference_names(
    tmp_path: Path, descriptor: ImageDescriptor, stack: tuple[np.ndarray, np.ndarray]
) -> None:
    images, fourier = stack
    power = PowerSpectrum()
    power.add(fourier)
    paths = {
        "phys": tmp_path / "particles_phys_stack_000002.png",
        "fourier": tmp_path / "particles_fourier_stack_000002.png",
        "power_spectrum": tmp_path / "power_spectrum_stack_000002.png",
    }
    save_stack_plots(
        images[:16],
        fourier[:16],
        descriptor,
        paths,
        power=power,
        labels=image_labels(np.arange(16)),
    )
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
