"""A random-weight InceptionV1 with the TF-Slim layout of the TF-Hub model.

The real model cannot be downloaded where tests and benchmarks run, so they build
this one instead: the same layer names (``InceptionV1/InceptionV1/Mixed_4b/concat``,
``InceptionV1/Logits/SpatialSqueeze``), the same strides and pooling, a serving
signature that takes float32 [batch, 224, 224, 3] images in [0, 1] and returns only
1001 logits. ``width`` scales every channel count, so tests can use a thin copy and
the benchmark the full-width one.

As in TF-Slim, every convolution but the logits' is followed by an inference BatchNorm
(no scale, epsilon 0.001, no bias on the convolution): a FusedBatchNormV3 op whose output
is the pre-activation the ReLU reads. Its moving mean and variance are random, far from
0 and 1, so that folding it into the convolution is really exercised.
``batch_norm=False`` builds the BatchNorm-free network (a bias on every convolution).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import tensorflow as tf

DEFAULT_HANDLE = "https://tfhub.dev/google/imagenet/inception_v1/classification/5"

# (name, [branch_0, (branch_1 reduce, branch_1), (branch_2 reduce, branch_2), branch_3])
MIXED_BLOCKS = [
    ("Mixed_3b", [64, (96, 128), (16, 32), 32]),
    ("Mixed_3c", [128, (128, 192), (32, 96), 64]),
    ("MaxPool_4a_3x3", None),
    ("Mixed_4b", [192, (96, 208), (16, 48), 64]),
    ("Mixed_4c", [160, (112, 224), (24, 64), 64]),
    ("Mixed_4d", [128, (128, 256), (24, 64), 64]),
    ("Mixed_4e", [112, (144, 288), (32, 64), 64]),
    ("Mixed_4f", [256, (160, 320), (32, 128), 128]),
    ("MaxPool_5a_2x2", None),
    ("Mixed_5b", [256, (160, 320), (32, 128), 128]),
    ("Mixed_5c", [384, (192, 384), (48, 128), 128]),
]
NUM_CLASSES = 1001


class SlimInceptionV1(tf.Module):
    """InceptionV1 with TF-Slim op names and He-initialised random weights."""

    def __init__(self, width: float = 1.0, seed: int = 0, batch_norm: bool = True):
        super().__init__(name=None)
        self._rng = np.random.default_rng(seed)
        self._width = width
        self._batch_norm = batch_norm
        self._weights: dict[str, tuple[tf.Variable, tf.Variable | None]] = {}
        self._norms: dict[str, tuple[tf.Variable, tf.Variable, tf.Variable]] = {}
        # Build every variable once by tracing the network on a dummy image.
        self._build = True
        self._forward(tf.zeros([1, 224, 224, 3]))
        self._build = False

    def _channels(self, n: int) -> int:
        return max(2, int(round(n * self._width)))

    def _conv(self, x, name, out, kernel, stride=1, relu=True, full_width=False):
        out = out if full_width else self._channels(out)
        # TF-Slim normalises every convolution but the logits', which has a bias instead.
        normalised = self._batch_norm and relu
        if self._build:
            fan_in = kernel * kernel * int(x.shape[-1])
            w = self._rng.normal(0, np.sqrt(2.0 / fan_in), (kernel, kernel, x.shape[-1], out))
            b = self._rng.normal(0, 0.05, out)  # drawn either way: the same weights both ways
            self._weights[name] = (tf.Variable(w.astype(np.float32), name=name + "/weights"),
                                   None if normalised else
                                   tf.Variable(b.astype(np.float32), name=name + "/biases"))
            if normalised:
                self._norms[name] = self._random_batch_norm(name, out)
        w, b = self._weights[name]
        with tf.name_scope(name.split("/")[-1]):
            y = tf.nn.conv2d(x, w, stride, "SAME", name="Conv2D")
            if normalised:
                beta, mean, variance = self._norms[name]
                with tf.name_scope("BatchNorm"):
                    y = tf.raw_ops.FusedBatchNormV3(
                        x=y, scale=tf.constant(np.ones(out, np.float32)), offset=beta,
                        mean=mean, variance=variance, epsilon=0.001, is_training=False,
                        name="FusedBatchNormV3").y
            else:
                y = tf.nn.bias_add(y, b, name="BiasAdd")
            return tf.nn.relu(y, name="Relu") if relu else y

    def _random_batch_norm(self, name: str, channels: int):
        """beta, moving mean and moving variance: random, with a variance log-uniform in
        [1/2, 2] so that activations neither grow nor vanish through the network."""
        beta = self._rng.normal(0, 0.1, channels)
        mean = self._rng.normal(0, 0.3, channels)
        variance = np.exp(self._rng.uniform(np.log(0.5), np.log(2.0), channels))
        return tuple(tf.Variable(value.astype(np.float32), name=f"{name}/BatchNorm/{part}")
                     for value, part in ((beta, "beta"), (mean, "moving_mean"),
                                         (variance, "moving_variance")))

    def _mixed(self, x, scope, spec):
        b0, (b1r, b1), (b2r, b2), b3 = spec
        with tf.name_scope(scope):
            with tf.name_scope("Branch_0"):
                y0 = self._conv(x, f"{scope}/Branch_0/Conv2d_0a_1x1", b0, 1)
            with tf.name_scope("Branch_1"):
                y1 = self._conv(x, f"{scope}/Branch_1/Conv2d_0a_1x1", b1r, 1)
                y1 = self._conv(y1, f"{scope}/Branch_1/Conv2d_0b_3x3", b1, 3)
            with tf.name_scope("Branch_2"):
                y2 = self._conv(x, f"{scope}/Branch_2/Conv2d_0a_1x1", b2r, 1)
                y2 = self._conv(y2, f"{scope}/Branch_2/Conv2d_0b_3x3", b2, 3)
            with tf.name_scope("Branch_3"):
                y3 = tf.nn.max_pool2d(x, 3, 1, "SAME", name="MaxPool_0a_3x3")
                y3 = self._conv(y3, f"{scope}/Branch_3/Conv2d_0b_1x1", b3, 1)
            return tf.concat([y0, y1, y2, y3], axis=3, name="concat")

    def _forward(self, images):
        with tf.name_scope("InceptionV1"):
            with tf.name_scope("InceptionV1"):
                x = self._conv(images * 2.0 - 1.0, "Conv2d_1a_7x7", 64, 7, stride=2)
                x = tf.nn.max_pool2d(x, 3, 2, "SAME", name="MaxPool_2a_3x3")
                x = self._conv(x, "Conv2d_2b_1x1", 64, 1)
                x = self._conv(x, "Conv2d_2c_3x3", 192, 3)
                x = tf.nn.max_pool2d(x, 3, 2, "SAME", name="MaxPool_3a_3x3")
                for scope, spec in MIXED_BLOCKS:
                    if spec is None:
                        size = 3 if "3x3" in scope else 2
                        x = tf.nn.max_pool2d(x, size, 2, "SAME", name=scope)
                    else:
                        x = self._mixed(x, scope, spec)
            with tf.name_scope("Logits"):
                x = tf.nn.avg_pool2d(x, 7, 1, "VALID", name="AvgPool_0a_7x7")
                x = self._conv(x, "Logits/Conv2d_0c_1x1", NUM_CLASSES, 1, relu=False,
                               full_width=True)
                return tf.squeeze(x, [1, 2], name="SpatialSqueeze")

    @tf.function(input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.float32)])
    def __call__(self, images):
        return {"default": self._forward(images)}


def save_slim_inception(directory: str, width: float = 1.0, seed: int = 0,
                        batch_norm: bool = True) -> str:
    """Write the network as a TF2 SavedModel whose only signature returns logits."""
    module = SlimInceptionV1(width=width, seed=seed, batch_norm=batch_norm)
    tf.saved_model.save(module, directory, signatures={"serving_default": module.__call__})
    return directory


def hub_cache_folder(cache_dir: str, handle: str = DEFAULT_HANDLE) -> str:
    """Where tensorflow_hub looks for ``handle`` under ``cache_dir``: sha1 of the handle."""
    return os.path.join(cache_dir, hashlib.sha1(handle.encode("utf8")).hexdigest())


def install_in_hub_cache(cache_dir: str, handle: str = DEFAULT_HANDLE, width: float = 1.0,
                         seed: int = 0, batch_norm: bool = True) -> str:
    """Lay a SlimInceptionV1 into a TF-Hub cache so that ``hub.load(handle)`` finds it offline."""
    folder = hub_cache_folder(cache_dir, handle)
    if not os.path.isdir(folder) or not os.listdir(folder):
        save_slim_inception(folder, width=width, seed=seed, batch_norm=batch_norm)
        with open(folder + ".descriptor.txt", "w", encoding="utf8") as descriptor:
            descriptor.write(f"Module: {handle}\nBuilt by the fvcli tests (random weights)\n")
    return folder
