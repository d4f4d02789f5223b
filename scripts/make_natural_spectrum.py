"""Rebuild fvcli's own natural spectrum, fvcli/engine/natural_spectrum.npy, for MACO.

    pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage
    python scripts/make_natural_spectrum.py /tmp/skimage/scikit_image-0.26.0-*.whl

The photographs are four that scikit-image ships and that may be redistributed:
astronaut (NASA, public domain), chelsea and coffee (CC0) and rocket (SpaceX, public
domain). Four photographs make a noisy mean, so each gives 48 random square crops (35 %
to all of its short side, half of them mirrored), each added to the mean as `fvcli
spectrum` adds an image.
"""

from __future__ import annotations

import io
import os
import sys
import zipfile

import imageio.v3 as iio
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fvcli.engine.spectrum import NATURAL_SPECTRUM, SpectrumAverage  # noqa: E402

PHOTOGRAPHS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
CROPS_PER_PHOTOGRAPH = 48


def main(wheel: str) -> None:
    average = SpectrumAverage()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(wheel) as archive:
        for name in PHOTOGRAPHS:
            image = iio.imread(io.BytesIO(archive.read(f"skimage/data/{name}")))
            height, width = image.shape[:2]
            for _ in range(CROPS_PER_PHOTOGRAPH):
                side = int(rng.uniform(0.35, 1.0) * min(height, width))
                top = rng.integers(0, height - side + 1)
                left = rng.integers(0, width - side + 1)
                crop = image[top:top + side, left:left + side]
                average.add(crop[:, ::-1] if rng.random() < 0.5 else crop)
    np.save(NATURAL_SPECTRUM, average.result())
    print(f"{NATURAL_SPECTRUM}: the mean of {average.images} crops")


if __name__ == "__main__":
    main(sys.argv[1])
