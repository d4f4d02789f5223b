"""Transformation robustness: random pad, jitter, scale and rotation, per image.

All of a step's transforms compose into one affine map per image, applied to the whole
batch by a single bilinear resampling instead of a chain of crops and resizes. The
padding is its constant fill (0.5, as in Lucid). The map lands on a window of the render
size around the image's centre, so the network is fed 128 px for a 128 px render
(chaining Lucid's pad 12 and crops would feed it 140 px, 23 % more work per step);
jitter, scale and rotation move the image within that window.
Randomness comes from a counter-based hash of (unit seed, step), so an image's
transforms depend on its own seed only, never on which batch it was rendered in.

MACO's views (``crops``) are instead several random square crops of each image a step,
each resized to the size the network is fed and given Gaussian noise: their centres are
drawn from N(0.5, 0.15) of the canvas, their sides from N(s, 0.05) where s goes from
``crop_box[0]`` to ``crop_box[1]`` of the canvas's side over the steps. Their randomness
comes from stateless generators keyed by (image seed, step) alone, for the same reason.
"""

from __future__ import annotations

import math

import tensorflow as tf

from ..config.settings import TransformSpec

PAD_VALUE = 0.5


class Transforms(TransformSpec):
    """A :class:`TransformSpec` that applies itself to a batch of images."""

    @classmethod
    def of(cls, spec: TransformSpec) -> "Transforms":
        """The transforms a checked spec describes."""
        return spec if isinstance(spec, cls) else cls(**vars(spec))

    def apply(self, images: tf.Tensor, seeds: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        """Transform each image of [batch, size, size, 3] with its own random draw."""
        if self.is_identity:
            return images
        draws = hash_uniform(seeds, step, 3 + len(self.jitters) * 2)
        return resample(images, self._matrices(draws, images.shape[1]))

    def crop_views(self, images: tf.Tensor, seeds: tf.Tensor, step: tf.Tensor, steps: int,
                   view: int) -> tf.Tensor:
        """[crops x batch, view, view, channels]: ``crops`` random crops of each image,
        crop-major (crop c of image i is row c * batch + i), so that each crop's rows form a
        batch in the images' order."""
        batch = images.shape[0]
        progress = tf.cast(step, tf.float32) / max(steps - 1, 1)
        mean_side = self.crop_box[0] + (self.crop_box[1] - self.crop_box[0]) * progress
        smallest = min(0.05, *self.crop_box)
        boxes, noises = [], []
        for image in range(batch):  # a stateless draw per image keeps its own randomness
            key = tf.stack([seeds[image], tf.cast(step, tf.int64)])
            draws = tf.random.stateless_normal([self.crops, 3], seed=key)
            side = tf.clip_by_value(mean_side + 0.05 * draws[:, 2], smallest, 1.0)
            centre = tf.clip_by_value(0.5 + 0.15 * draws[:, :2], side[:, None] / 2,
                                      1.0 - side[:, None] / 2)
            boxes.append(tf.concat([centre - side[:, None] / 2, centre + side[:, None] / 2],
                                   axis=1))
            if self.noise:
                noises.append(tf.random.stateless_normal(
                    [self.crops, view, view, images.shape[-1]], seed=key + [0, 1 << 40],
                    stddev=self.noise))
        box_indices = tf.tile(tf.range(batch), [self.crops])
        views = tf.image.crop_and_resize(images, _crop_major(boxes), box_indices, [view, view])
        if self.noise:
            noise = tf.transpose(tf.stack(noises), [1, 0, 2, 3, 4])
            views += tf.reshape(noise, tf.shape(views))
        return views

    def _matrices(self, draws: tf.Tensor, size: int) -> tf.Tensor:
        """[batch, 8] maps from output pixel to input pixel (ImageProjectiveTransformV3's
        convention). Both are ``size`` wide and share a centre: the padded, jittered,
        scaled and rotated image is seen through a window of the render size."""
        scales = tf.constant(self.scales, tf.float32)
        scale = tf.gather(scales, _pick(draws[:, 0], len(self.scales)))
        angle = tf.cast(_pick(draws[:, 1], 2 * self.rotate_degrees + 1) - self.rotate_degrees,
                        tf.float32) * (math.pi / 180.0)
        shift_x = tf.zeros_like(scale)
        shift_y = tf.zeros_like(scale)
        for i, jitter in enumerate(self.jitters):
            shift_x += tf.cast(_pick(draws[:, 3 + 2 * i], jitter + 1), tf.float32) - jitter / 2
            shift_y += tf.cast(_pick(draws[:, 4 + 2 * i], jitter + 1), tf.float32) - jitter / 2
        # input = centre + R(-angle) / scale * (output - centre - shift)
        centre = (size - 1) / 2.0
        cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
        ox, oy = centre + shift_x, centre + shift_y
        zeros = tf.zeros_like(scale)
        return tf.stack([cos, sin, centre - cos * ox - sin * oy,
                         -sin, cos, centre + sin * ox - cos * oy, zeros, zeros], axis=1)


@tf.custom_gradient
def resample(images: tf.Tensor, matrices: tf.Tensor):
    """Each image of [batch, size, size, channels] seen through its affine map (``matrices``:
    [batch, 8], output pixel -> input pixel), bilinear, grey outside: what TensorFlow's
    ImageProjectiveTransformV3 does, compiled by XLA, which runs it 2.5x as fast on a CPU.
    The gradient is that op's own: the incoming gradient resampled through the inverse
    maps, zero outside (an exact adjoint would scatter, several times slower)."""

    def gradient(upstream):
        return _bilinear(upstream, _inverted(matrices), 0.0), None

    return _bilinear(images, matrices, PAD_VALUE), gradient


def _crop_major(per_image: list) -> tf.Tensor:
    """Per image, [crops, 4] boxes -> [crops x images, 4], crop c of image i in row
    c * images + i."""
    stacked = tf.transpose(tf.stack(per_image), [1, 0, 2])
    return tf.reshape(stacked, [-1, stacked.shape[-1]])


def _inverted(matrices: tf.Tensor) -> tf.Tensor:
    """The inverse affine maps, in the same [batch, 8] form."""
    a, b, c, d, e, f = tf.unstack(matrices[:, :6], axis=1)  # x' = a x + b y + c; y' = d x + e y + f
    determinant = a * e - b * d
    ia, ib, id_, ie = e / determinant, -b / determinant, -d / determinant, a / determinant
    zeros = tf.zeros_like(a)
    return tf.stack([ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f), zeros, zeros],
                    axis=1)


@tf.function(jit_compile=True, autograph=False)
def _bilinear(images: tf.Tensor, matrices: tf.Tensor, fill: float) -> tf.Tensor:
    """Bilinear resampling through affine maps with a constant fill, written with gathers
    so that XLA compiles it into one loop."""
    size = out = images.shape[1]
    grid = tf.cast(tf.range(out), tf.float32)
    ys, xs = tf.meshgrid(grid, grid, indexing="ij")                     # [out, out]
    m = matrices[:, :, None, None]                                      # [batch, 8, 1, 1]
    x = m[:, 0] * xs + m[:, 1] * ys + m[:, 2]                           # [batch, out, out]
    y = m[:, 3] * xs + m[:, 4] * ys + m[:, 5]
    x0, y0 = tf.floor(x), tf.floor(y)
    result = tf.zeros([tf.shape(images)[0], out, out, images.shape[-1]], images.dtype)
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=fill)
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        corner_x, corner_y = x0 + dx, y0 + dy
        weight = (1 - tf.abs(x - corner_x)) * (1 - tf.abs(y - corner_y))
        # Outside the image reads the fill value from the one-pixel border of ``padded``.
        column = tf.cast(tf.clip_by_value(corner_x + 1, 0, size + 1), tf.int32)
        row = tf.cast(tf.clip_by_value(corner_y + 1, 0, size + 1), tf.int32)
        pixels = tf.gather_nd(padded, tf.stack([row, column], axis=-1), batch_dims=1)
        result += weight[..., None] * pixels
    return result


def _pick(uniform: tf.Tensor, count: int) -> tf.Tensor:
    """Uniform [0, 1) draws -> integer choices in [0, count)."""
    return tf.minimum(tf.cast(uniform * count, tf.int32), count - 1)


def hash_uniform(seeds: tf.Tensor, step: tf.Tensor, count: int) -> tf.Tensor:
    """[batch, count] uniform draws in [0, 1) from (seed, step, draw index).

    A stateless integer hash (a splitmix-style mixer on 32-bit words in int64), so each
    image's draws are a function of its own seed and the step alone.
    """
    mask = 0xFFFFFFFF
    seeds = tf.cast(seeds, tf.int64)[:, None]
    index = tf.range(count, dtype=tf.int64)[None, :]
    x = (seeds * 0x9E3779B1 + tf.cast(step, tf.int64) * 0x85EBCA77 + index * 0xC2B2AE3D) & mask
    for multiplier in (0x7FEB352D, 0x846CA68B):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
        x = (x * multiplier) & mask
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    return tf.cast(x, tf.float32) / 4294967296.0
