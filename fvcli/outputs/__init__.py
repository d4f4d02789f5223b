"""The output folder: atomic file writes and PNGs, each job's store of unit records,
locks, and what is built from them (grids, manifests, the index pages, dataset examples).

Nothing here imports TensorFlow.
"""
