"""Networks: loading (TF-Hub, SavedModel, .keras, the built-in demo), freezing, graph
rewrites and gradients, the layer table, preprocessing and FLOPs.

Start at :func:`fvcli.models.loading.load_network`. ``errors``, ``preprocess`` and
``tensorflow_import`` do not import TensorFlow at their import; models by name are in
:mod:`fvcli.config.model_names`.
"""
