"""Networks: loading (TF-Hub, SavedModel, .keras, the built-in demo), freezing, graph
rewrites and gradients, the layer table, preprocessing and FLOPs.

Start at :func:`fvcli.models.loading.load_network`. ``names``, ``errors`` and
``preprocess`` do not import TensorFlow.
"""
