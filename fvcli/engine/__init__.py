"""The traced optimisation step and what it is made of: the renderer, the image
parameterisations, transforms, objectives, regularisers and per-image targets; the device
and precision it runs on, the memory and FLOPs it costs; and the scoring of natural images
on units (dataset examples).

Start at :class:`fvcli.engine.renderer.Renderer`.
"""
