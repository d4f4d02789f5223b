"""The built-in demo model: a small CNN trained on six synthetic textures.

The trained model ships inside the package (``fvcli/models/demo_model``, a TF2 SavedModel)
so that the demo and the tests render offline against a *trained* network whose answers
can be checked: a class visualisation must be classified as its class. ``scripts/train_demo_model.py``
rebuilds it from scratch with :func:`train`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

CLASSES = ("horizontal_stripes", "vertical_stripes", "diagonal_stripes",
           "checkerboard", "dots", "rings")
CONV_LAYERS = (("conv1", 16), ("conv2", 32), ("conv3", 48), ("conv4", 64))


def texture(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One [size, size, 3] image in [0, 1] of texture class ``kind``, random in colour,
    period, phase and noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(5.0, 14.0)
    phase = rng.uniform(0, 2 * np.pi)
    frequency = 2 * np.pi / period
    if kind == 0:
        wave = np.sin(frequency * y + phase)
    elif kind == 1:
        wave = np.sin(frequency * x + phase)
    elif kind == 2:
        direction = rng.choice([-1.0, 1.0])
        wave = np.sin(frequency * (x + direction * y) / np.sqrt(2) + phase)
    elif kind == 3:
        wave = np.sin(frequency * x + phase) * np.sin(frequency * y + rng.uniform(0, 6.3))
    elif kind == 4:
        cell = period * 1.4
        dy = (y + rng.uniform(0, cell)) % cell - cell / 2
        dx = (x + rng.uniform(0, cell)) % cell - cell / 2
        wave = np.where(dx * dx + dy * dy < (cell * 0.3) ** 2, 1.0, -1.0)
    else:
        cy, cx = rng.uniform(0, size, 2)
        wave = np.sin(frequency * np.sqrt((x - cx) ** 2 + (y - cy) ** 2) + phase)
    mask = (np.sign(wave) + 1) / 2 if rng.random() < 0.5 else (wave + 1) / 2
    colour_a, colour_b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    while np.abs(colour_a - colour_b).sum() < 0.6:
        colour_b = rng.uniform(0, 1, 3)
    image = mask[..., None] * colour_a + (1 - mask[..., None]) * colour_b
    image += rng.normal(0, rng.uniform(0, 0.08), image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def texture_batch(count: int, size: int, rng: np.random.Generator):
    """(images [count, size, size, 3], labels [count]) with balanced random classes."""
    labels = rng.integers(0, len(CLASSES), count)
    return np.stack([texture(int(k), size, rng) for k in labels]), labels.astype(np.int32)


class DemoNet(tf.Module):
    """Four 3x3 conv + ReLU + 2x2 max-pool stages, global average pool, linear logits."""

    def __init__(self, seed: int = 0):
        super().__init__(name="DemoNet")
        rng = np.random.default_rng(seed)
        self.kernels, self.biases = [], []
        channels_in = 3
        for name, channels in CONV_LAYERS:
            scale = np.sqrt(2.0 / (9 * channels_in))
            self.kernels.append(tf.Variable(
                rng.normal(0, scale, (3, 3, channels_in, channels)).astype(np.float32),
                name=name + "_kernel"))
            self.biases.append(tf.Variable(np.zeros(channels, np.float32), name=name + "_bias"))
            channels_in = channels
        self.dense = tf.Variable(
            rng.normal(0, 0.1, (channels_in, len(CLASSES))).astype(np.float32), name="dense")
        self.dense_bias = tf.Variable(np.zeros(len(CLASSES), np.float32), name="dense_bias")

    def logits(self, images):
        x = images * 2.0 - 1.0
        with tf.name_scope("DemoNet"):
            for (name, _), kernel, bias in zip(CONV_LAYERS, self.kernels, self.biases):
                with tf.name_scope(name):
                    x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias))
                x = tf.nn.max_pool2d(x, 2, 2, "SAME")
            with tf.name_scope("logits"):
                pooled = tf.reduce_mean(x, axis=[1, 2])
                return tf.nn.bias_add(tf.matmul(pooled, self.dense), self.dense_bias)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def serve(self, images):
        return {"logits": self.logits(images)}


def train(directory: str, steps: int = 1500, size: int = 64, seed: int = 0,
          log=print) -> float:
    """Train a DemoNet on fresh textures, save it to ``directory``; return test accuracy."""
    rng = np.random.default_rng(seed)
    net = DemoNet(seed)
    optimizer = tf.keras.optimizers.Adam(2e-3)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, net.logits(images)))
        gradients = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        return loss

    for i in range(steps):
        # Vary the size, so the network works at the sizes it will be rendered at.
        images, labels = texture_batch(32, int(rng.choice([48, 64, 96])), rng)
        loss = step(images, labels)
        if i % 100 == 0:
            log(f"step {i}: loss {float(loss):.3f}")
    images, labels = texture_batch(600, size, rng)
    accuracy = float(np.mean(np.argmax(net.logits(images), axis=1) == labels))
    log(f"test accuracy {accuracy:.3f}")
    tf.saved_model.save(net, directory, signatures={"serving_default": net.serve})
    return accuracy
