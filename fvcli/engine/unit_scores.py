"""How well a unit's pictures explain it: the arithmetic of ``fvcli score``.

Three numbers per unit, from its top and bottom natural images (found by
:func:`fvcli.engine.scoring.score_folder`), its visualization and its negative
visualization:

- **MIS**, after Zimmermann, Klindt & Brendel, "Measuring Per-Unit Interpretability at
  Scale Without Humans" (NeurIPS 2024): a machine two-alternative forced choice. Task t
  takes the t-th most and least activating images as queries q+ and q-, and K explanations
  of each side E+ and E- (drawn, with a seed of the unit's, from the rest of the unit's
  POOL most and least activating images). With s the cosine similarity of a judge
  network's globally average-pooled features,
  delta = [<s(q+, E+)> - <s(q+, E-)>] - [<s(q-, E+)> - <s(q-, E-)>] and
  MIS = mean over tasks of sigmoid(ALPHA * delta). With the unit's visualizations as
  explanations (its rendered image for E+, its negative rendering for E-) the same task
  says whether the pictures predict what the unit does on natural images.
- **natural path**, after Geirhos et al., "Don't trust your eyes: on the (un)reliability
  of feature visualizations" (ICML 2024): whether the visualization reaches the unit the
  way its natural top images do. At a few spatial layers below the unit, each image's
  pooled activations less the folder's mean (how it differs from an ordinary image); per
  layer, the cosine of the visualization's difference with the top images' mean
  difference; the natural path is its value at the layer directly below the unit. Raw
  pooled post-ReLU features are non-negative, so their cosines sit near 0.9 for any
  content: centring is what makes the number mean something. Measured on the demo's
  textures: the test suite's silent-path unit 0.26 (its twin 0.98), the trained demo's
  conv3 units 0.62-0.96 and conv4 units 0.45-0.99; a random-weight demo 0.28-0.86 and
  -0.06-0.92. PATH_THRESHOLD (0.35) lies between the silent-path unit and the trained
  units; a unit below it is flagged.

Nothing here is comparable to published MIS values: the judge is not DreamSim, ALPHA is
not fitted to human data, and the folder is not ImageNet's training set.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

K = 9            # explanations of each side per task, as in the paper
POOL = 20        # most and least activating images kept per unit: queries and explanations
ALPHA = 10.0     # sigmoid slope on delta, a difference of mean cosine similarities
PATH_LAYERS = 3  # spatial layers below a unit that the natural path looks at
PATH_THRESHOLD = 0.35  # flagged below this: see natural_path and the README for the numbers


def pool_size(images: int) -> int:
    """Queries (and tasks) per unit for a folder of ``images``: POOL, or fewer when the
    folder is too small to keep POOL top and POOL bottom images apart."""
    return min(POOL, images // 2)


def minimum_images() -> int:
    """The smallest folder a unit can be scored on: K explanations and a query per side."""
    return 2 * (K + 1)


class PooledFeatures:
    """Globally average-pooled activations of some layers of a network: [batch, channels]
    per layer (a layer without a spatial map as it is)."""

    def __init__(self, network, layer_names, size: int):
        self.layer_names = tuple(layer_names)
        self.size = size
        self.channels = network.input_channels
        self._forward = network.forward(self.layer_names, (), size)
        self._pooled = tf.function(self._pool, autograph=False, input_signature=[
            tf.TensorSpec([None, size, size, self.channels], tf.float32)])

    def _pool(self, images):
        values = self._forward(images)
        pooled = []
        for name in self.layer_names:
            value = tf.cast(values[name], tf.float32)
            pooled.append(tf.reduce_mean(value, axis=[1, 2]) if value.shape.rank == 4
                          else tf.reshape(value, [tf.shape(value)[0], -1]))
        return pooled

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        """Per layer, [batch, channels] float64 features of ``images`` [batch, size, size, c]."""
        if len(images) == 0:
            return [np.zeros((0, 0)) for _ in self.layer_names]
        return [value.numpy().astype(np.float64)
                for value in self._pooled(tf.constant(images, tf.float32))]


def default_judge_layer(network) -> str:
    """The judge's layer when none is named: the network's last spatial layer before the
    logits (InceptionV1: Mixed_5c), whose pooled activations are the features the
    classifier reads."""
    spatial = [layer for layer in network.top_level_layers() if layer.is_spatial]
    if not spatial:
        raise ValueError(f"{network.description} has no spatial layer to judge images with; "
                         "name one with --judge MODEL:LAYER")
    return spatial[-1].name


def path_layers(network, layer_name: str, count: int = PATH_LAYERS) -> list[str]:
    """The ``count`` spatial layers directly below ``layer_name`` (top-level layers, in the
    network's order; for the logits, the last ``count`` spatial layers). Empty for a unit of
    the first layer."""
    order = [layer.name for layer in network.layers]
    position = order.index(network.layer(layer_name).name)
    below = [layer.name for layer in network.top_level_layers()
             if layer.is_spatial and order.index(layer.name) < position]
    return below[-count:] if count else []


def _unit_rows(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] cosine similarities of the rows of ``a`` and ``b`` (0 for a zero row)."""
    return _unit_rows(a) @ _unit_rows(b).T


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def mis_of_examples(top: np.ndarray, bottom: np.ndarray, seed: int, k: int = K,
                    alpha: float = ALPHA) -> float | None:
    """MIS with natural explanations. ``top`` and ``bottom`` are judge features [pool, d]
    of the unit's most and least activating images, most extreme first. Task t queries
    top[t] and bottom[t]; its K explanations per side are drawn (without replacement,
    with ``seed``) from the other pool - 1 images of that side. None when the pool is too
    small for a task."""
    pool = min(len(top), len(bottom))
    if pool < k + 1:
        return None
    rng = np.random.default_rng(seed)
    top_similar, bottom_similar = cosine(top, top), cosine(bottom, bottom)
    across = cosine(top, bottom)  # [i, j] = s(top i, bottom j)
    outcomes = []
    for t in range(pool):
        others = np.array([i for i in range(pool) if i != t])
        positive = rng.choice(others, k, replace=False)
        negative = rng.choice(others, k, replace=False)
        query_top = top_similar[t, positive].mean() - across[t, negative].mean()
        query_bottom = across[positive, t].mean() - bottom_similar[t, negative].mean()
        outcomes.append(_sigmoid(alpha * (query_top - query_bottom)))
    return float(np.mean(outcomes))


def mis_of_visualizations(top: np.ndarray, bottom: np.ndarray, positive: np.ndarray,
                          negative: np.ndarray, alpha: float = ALPHA) -> float | None:
    """MIS with the unit's visualizations as explanations: ``positive`` [n, d] the judge
    features of its rendered image(s), ``negative`` [m, d] those of its negative
    rendering; task t queries top[t] and bottom[t] as in :func:`mis_of_examples`. None
    without both kinds of visualization."""
    if len(positive) == 0 or len(negative) == 0:
        return None
    pool = min(len(top), len(bottom))
    queries_top, queries_bottom = top[:pool], bottom[:pool]
    query_top = cosine(queries_top, positive).mean(1) - cosine(queries_top, negative).mean(1)
    query_bottom = (cosine(queries_bottom, positive).mean(1)
                    - cosine(queries_bottom, negative).mean(1))
    return float(np.mean(_sigmoid(alpha * (query_top - query_bottom))))


def natural_path(visualization: list[np.ndarray], top: list[np.ndarray],
                 centre: list[np.ndarray], layer_names: list[str]) -> tuple[float | None, dict]:
    """(the natural path, {layer: its cosine}). Per layer, ``visualization`` [n, c] and
    ``top`` [m, c] are pooled activations of the unit's visualization (its n images) and
    of its top natural images, and ``centre`` [c] the folder's mean pooled activation.
    Less the centre, each says how an image differs from an ordinary one; the layer's
    value is the cosine of the visualization's mean difference with the top images' mean
    difference: 1 when the picture departs from ordinary images in the direction the
    unit's natural images do, 0 when in some other direction. The natural path is the
    value at the last of ``layer_names`` (the layer directly below the unit, which
    whatever reaches the unit passes through); the lower layers are reported, not judged.
    None without layers, a visualization or top images."""
    values = {}
    for name, vis, natural, mean in zip(layer_names, visualization, top, centre):
        if len(vis) == 0 or len(natural) == 0:
            continue
        values[name] = float(cosine((vis - mean).mean(0, keepdims=True),
                                    (natural - mean).mean(0, keepdims=True))[0, 0])
    if not layer_names or layer_names[-1] not in values:
        return None, values
    return values[layer_names[-1]], values
