"""What rendering costs, in FLOPs: the one formula that shards, status, validate's time
estimate and the bench all use.

One image-step costs twice the forward FLOPs from the image to the objective's deepest
layer (the forward pass, and the gradient back to the image), at the render size.
"""

from __future__ import annotations


def forward_flops(job, network) -> float:
    """FLOPs of a forward pass of one image to ``job``'s deepest layer, at its size."""
    return float(max(network.forward_flops(term.layer, job.settings.size)
                     for term in job.terms))


def image_step_flops(job, network) -> float:
    """FLOPs of one image-step of ``job``: forward to its deepest layer and back."""
    return 2.0 * forward_flops(job, network)


def job_flops(job, network) -> float:
    """FLOPs of rendering every image of ``job``."""
    images = len(job.units) * job.images_per_unit
    return images * job.settings.steps * image_step_flops(job, network)


def batch_speed(job, network, image_steps: int, seconds: float) -> float:
    """GFLOP/s of ``image_steps`` of ``job`` done in ``seconds``."""
    return image_steps * image_step_flops(job, network) / max(seconds, 1e-9) / 1e9


def unit_cost(job, network) -> float:
    """Estimated cost of one unit of ``job``: FLOPs of a forward pass to its deepest layer
    at the size the network sees, times its steps."""
    return forward_flops(job, network) * job.settings.steps
