"""Memory and time of the overview plots (``inspect --plots``) on a large stack.

Converts ``--n-images`` noisy images of ``--box`` pixels into one stack (plots off),
then, each in a fresh process, measures the peak RSS and time of

- ``baseline``: importing the package and matplotlib and drawing an empty figure;
- ``overview``: ``write_overview_plots`` (memory-mapped reads, 16 images for the
  montages, up to ``--spectrum-images`` evenly spaced ones for the spectrum);
- ``full-load``: ``torch.load`` of the whole Fourier and physical stacks, which is
  what ``inspect --plots`` did before it read memory-mapped rows.

    python benchmarks/bench_overview_plots.py --n-images 1024 --box 256
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cryolike_convert.compat import convert_particle_stacks_from_indexed_cryosparc_file
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import cs_table, write_cs, write_mrc_stack

_MEASURE = """
import json, sys, time
from pathlib import Path
import matplotlib
from matplotlib.figure import Figure
import torch
import cryolike_convert.review.inspect as inspect
Figure().savefig(Path(sys.argv[2]) / "empty.png")
mode, out = sys.argv[1], Path(sys.argv[2]) / "out"
started = time.perf_counter()
if mode == "overview":
    inspect.write_overview_plots(out, out.parent / "plots", int(sys.argv[3]))
elif mode == "full-load":
    for kind in ("fft/particles_fourier", "phys/particles_phys"):
        tensor = torch.load(out / f"{kind}_stack_000000.pt", weights_only=True)
        del tensor
seconds = time.perf_counter() - started
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak}))
"""


def make_output(root: Path, n_images: int, box: int) -> Path:
    """Write one MRC stack and a ``.cs`` file, convert them; return the output folder."""
    rng = np.random.default_rng(0)
    images = rng.normal(size=(n_images, box, box)).astype(np.float32)
    write_mrc_stack(root / "J1/extract/stack.mrc", images, 1.0)
    table = cs_table(
        n_images,
        paths=["J1/extract/stack.mrc"] * n_images,
        indices=np.arange(n_images),
        pixel_size=1.0,
    )
    cs_file = write_cs(root / "J2" / "J2_particles.cs", table)
    params = ImageDescriptor.from_individual_values(box, 1.0).save(root / "params.npz")
    convert_particle_stacks_from_indexed_cryosparc_file(
        params,
        cs_file,
        folder_output=root / "out",
        batch_size=n_images,
        flag_plots=False,
    )
    return root / "out"


def measure(mode: str, root: Path, spectrum_images: int) -> dict[str, float]:
    """Run one mode in a fresh process; return its time and peak RSS (VmHWM).

    ``ru_maxrss`` would not do: Linux carries it over from the parent across exec.
    """
    completed = subprocess.run(
        [sys.executable, "-c", _MEASURE, mode, str(root), str(spectrum_images)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    """Build the output, measure each mode, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=1024)
    parser.add_argument("--box", type=int, default=256)
    parser.add_argument("--spectrum-images", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        out = make_output(root, args.n_images, args.box)
        print(
            f"converted {args.n_images} images of {args.box} px in "
            f"{time.perf_counter() - started:.1f} s"
        )
        for kind in ("fft/particles_fourier", "phys/particles_phys"):
            size = (out / f"{kind}_stack_000000.pt").stat().st_size / 2**20
            print(f"{kind}_stack_000000.pt: {size:,.0f} MiB")
        for mode in ("baseline", "overview", "full-load"):
            figures = measure(mode, root, args.spectrum_images)
            print(
                f"{mode:>10}: peak RSS {figures['peak_mib']:,.0f} MiB, "
                f"{figures['seconds']:.1f} s"
            )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process, which converted: peak RSS {own:,.0f} MiB)")


if __name__ == "__main__":
    main()
