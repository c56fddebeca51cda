"""Regenerate example_inputs/ (the photos the shipped workflows name) from scikit-image's `astronaut.png`.

The source is NASA's portrait of astronaut Eileen Collins, public domain (NASA Great Images; scikit-image ships it
as skimage/data/astronaut.png). Every file here is cut, mirrored or scaled from it, except the depth map, which is
drawn by this script. scikit-image is not a dependency: fetch the file once, e.g.

    pip download --no-deps scikit-image -d /tmp/sk && unzip -o /tmp/sk/*.whl 'skimage/data/astronaut.png' -d /tmp/sk
    python scripts/make_example_inputs.py /tmp/sk/skimage/data/astronaut.png
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

OUT = Path(__file__).resolve().parents[1] / "example_inputs"
PREFIX = "instantid_example_"  # the names in ComfyUI's input folder: never a name a user would pick


def build(source: Path) -> dict:
    photo = Image.open(source).convert("RGB")  # 512 x 512, face at about x 175-280, y 40-185
    mirrored = ImageOps.mirror(photo)
    pair = Image.new("RGB", (768, 384))
    pair.paste(photo.resize((384, 384), Image.LANCZOS), (0, 0))
    pair.paste(mirrored.resize((384, 384), Image.LANCZOS), (384, 0))
    trio = Image.new("RGB", (768, 256))
    for n, tile in enumerate((photo, mirrored, photo)):
        trio.paste(tile.resize((256, 256), Image.LANCZOS), (256 * n, 0))
    yy, xx = np.mgrid[0:512, 0:512] / 511.0
    depth = np.clip(255 * (1 - np.hypot(xx - 0.5, yy - 0.4) * 1.6), 0, 255).astype(np.uint8)
    return {
        "face": photo.crop((64, 0, 384, 320)),                                   # head and shoulders
        "face_2": photo.crop((140, 20, 316, 196)).resize((256, 256), Image.LANCZOS),  # closer, another scale
        "face_b": ImageOps.mirror(photo.crop((64, 0, 384, 320))),                # stands in for a second person
        "pose": mirrored.resize((384, 384), Image.LANCZOS),                     # the face turned the other way
        "target": photo,                                                         # a whole scene with one face
        "two_people": pair,                                                      # two faces side by side
        "three_people": trio,                                                    # a group pose: three faces
        "depth": Image.fromarray(depth).convert("RGB"),                          # a drawn depth map (near = light)
    }


def main(argv) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    for name, image in build(Path(argv[0])).items():
        path = OUT / f"{PREFIX}{name}.jpg"
        image.save(path, quality=85, optimize=True)
        print(f"{path.name}: {image.size[0]}x{image.size[1]}, {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
