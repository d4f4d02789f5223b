"""The optimisation loop: one traced step function per batch shape.

A call runs one whole step inside the traced function (parameterisation, transforms,
network, objective, gradient and Adam update). Which channels or classes the images
target, their seeds and the step number are tensor arguments: a sweep over every channel
of a layer traces the step once.

The loop over steps stays in Python on purpose. A loop inside the graph becomes a cyclic
while-loop graph, in which oneDNN's layout pass visits nodes in an order that varies from
one trace to the next; in some traces it then misses the max-pool gradient and TensorFlow
runs its own, 20x slower one (seen in 3 of 5 bf16 renderers of one process, each 2x
slower). One call per step costs well under a millisecond against tens of milliseconds of
work.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import tensorflow as tf

from . import regularizers
from .closeness import Closeness
from ..config import RenderSettings
from .hardware import Device, precision_scope, resolve_device, resolve_precision
from .objectives import Objective
from .param import Parameterization
from .targets import Targets
from .transforms import Transforms
from ..timings import phase

ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8
STEPS_PER_REPORT = 32  # progress is reported every this many steps


class RenderStopped(Exception):
    """A render was asked to stop (a signal); nothing of its batch is kept."""


@dataclass
class BatchResult:
    """Rendered images of one batch and their objective before and after."""

    images: np.ndarray           # [batch, size, size, 3] float32 in [0, 1]
    objective_start: np.ndarray  # [batch]
    objective_end: np.ndarray    # [batch]
    seconds: float
    failed_step: np.ndarray | None = None  # [batch]: step its numbers went NaN/Inf, or -1
    # [batch, size, size]: |d objective / d pixel| summed over colours and steps, when the
    # settings ask for alpha (where the image mattered to the objective)
    attribution: np.ndarray | None = None
    # with closeness (feature accentuation): each image's distance from its seed in the
    # layer's activations (relative), its pixels' RMS distance from it, and the seed
    # images as the optimisation started
    distance: np.ndarray | None = None
    pixel_distance: np.ndarray | None = None
    start_images: np.ndarray | None = None
    # steps after the first (which traces on a renderer's first batch) and their seconds:
    # the speed of rendering itself
    timed_steps: int = 0
    steps_seconds: float = 0.0
    # whether this batch traced the renderer's step (its first batch, without a warm-up)
    traced: bool = False


# Renderers traced so far in this process: the first trace of a process also pays
# TensorFlow's one-time set-up, so it costs about twice what later ones do.
_traces_in_process = 0


class Renderer:
    """Optimises batches of ``batch_size`` images for one objective structure, on one
    device, in one precision."""

    def __init__(self, network, objective: Objective, settings: RenderSettings,
                 batch_size: int, device: Device | None = None):
        self.objective = objective
        self.settings = settings
        self.batch_size = batch_size
        self.device = device or resolve_device()
        # Planned jobs arrive with their precision resolved (each unit's fingerprint holds
        # it); auto is resolved here only for renderers built directly, as tests and the
        # bench do.
        self.precision = resolve_precision(settings.precision, self.device)
        self.param = Parameterization.of(settings.param)
        self.transforms = Transforms.of(settings.transforms)
        # set when the step is first traced: was that the process's first trace?
        self.first_trace: bool | None = None
        self._forward = step_forward(network, objective, settings)
        self.view_size = self._forward.size  # what the transforms feed the network
        self._evaluate_forward = network.forward(
            *objective.layers(network, revive=False, groups=False), settings.size,
            evaluation_only=True)
        self.closeness = (Closeness(network, *settings.closeness, settings.size,
                                    self.param.channels) if settings.closeness else None)
        batch_params = tf.TensorSpec([batch_size, *self.param.shape()], tf.float32)
        self._vector_sizes = objective.vector_sizes(network)
        targets = self._target_signature(self._vector_sizes)
        extras = {name: tf.TensorSpec(shape, tf.float32)
                  for name, shape in self._extra_shapes().items()}
        # autograph=False: the step has no tensor-dependent Python control flow to convert,
        # and converting writes a temporary module file per trace
        self._step_function = tf.function(
            self._step, jit_compile=settings.xla or None, autograph=False,
            input_signature=[batch_params, batch_params, batch_params,
                             tf.TensorSpec([batch_size], tf.int32), extras, targets,
                             tf.TensorSpec([], tf.int32)])
        self._evaluate = tf.function(
            self._score, input_signature=[batch_params, targets, extras["reference"]],
            autograph=False)
        self._concrete_step = None
        self.traces = 0

    def _run_step(self, *arguments):
        """One optimisation step. Called as a concrete function: binding the arguments of a
        tf.function to its signature costs 0.4 ms a call, the concrete function's 0.2 ms
        (at batch 8, a step is 20-30 ms; at batch 1, under 10). Traced on first use, inside
        the device and precision scopes of the caller."""
        if self._concrete_step is None:
            self._concrete_step = self._step_function.get_concrete_function()
        return self._concrete_step(*arguments)

    def _trace(self) -> None:
        """Trace the step and the evaluation (each once; tracing is what a renderer's first
        batch costs beyond its steps), inside the device and precision scopes."""
        with phase("trace"), self.device.scope(), precision_scope(self.precision):
            if self._concrete_step is None:
                self._concrete_step = self._step_function.get_concrete_function()
            self._evaluate.get_concrete_function()

    def _extra_shapes(self) -> dict:
        """Shapes of the state a step carries besides Adam's: the attribution (summed over
        the image when alpha is asked for), the seeds' activations and each image's
        balance of the pull to its seed (with closeness). Stubs where not needed."""
        batch, size = self.batch_size, self.settings.size
        reference = self.closeness.shape if self.closeness else (1, 1, 1)
        return {"attribution": [batch, size, size] if self.settings.alpha else [batch, 1, 1],
                "reference": [batch, *reference], "balance": [batch]}

    def _start_extras(self, start_images) -> dict:
        """The state of a batch's first step; ``start_images`` are the seeds (closeness)."""
        extras = {name: tf.zeros(shape) for name, shape in self._extra_shapes().items()}
        extras["balance"] = -tf.ones([self.batch_size])  # not set yet
        if self.closeness:
            extras["reference"] = self.closeness.activations(start_images)
        return extras

    def _target_signature(self, vector_sizes) -> dict:
        batch, terms = self.batch_size, len(self.objective.terms)
        return {"indices": tf.TensorSpec([batch, terms], tf.int32),
                "weights": tf.TensorSpec([batch, terms], tf.float32),
                "vectors": tuple(tf.TensorSpec([batch, size], tf.float32)
                                 for size in vector_sizes),
                "seeds": tf.TensorSpec([batch], tf.int64),
                "frames": tf.TensorSpec([batch], tf.int32)}

    @staticmethod
    def _target_tensors(targets: Targets) -> dict:
        return {"indices": tf.constant(targets.indices), "weights": tf.constant(targets.weights),
                "vectors": tuple(tf.constant(v) for v in targets.vectors),
                "seeds": tf.constant(targets.seeds), "frames": tf.constant(targets.frames)}

    def warm_up(self) -> float:
        """Build and optimise the traced functions with one step on a dummy batch, so that
        timing a render afterwards measures rendering only. Returns the seconds it took."""
        started = time.perf_counter()
        self._note_trace()
        terms = len(self.objective.terms)
        dummy = Targets.simple(np.zeros([self.batch_size, terms], np.int32),
                               range(self.batch_size))
        dummy.vectors = tuple(np.ones([self.batch_size, size], np.float32)
                              for size in self._vector_sizes)
        with self.device.scope(), precision_scope(self.precision):
            params = tf.constant(self.param.initial(range(self.batch_size)))
            targets = self._target_tensors(dummy)
            extras = self._start_extras(self.param.to_image(params))
            self._evaluate(params, targets, extras["reference"])[0].numpy()
            self._run_step(params, params, params, tf.fill([self.batch_size], -1), extras,
                           targets, tf.constant(0))[0].numpy()
        return time.perf_counter() - started

    def _note_trace(self) -> bool:
        """Whether the step is traced now (the renderer's first run); notes whether this is
        the process's first trace."""
        global _traces_in_process
        if self.first_trace is not None:
            return False
        self.first_trace = _traces_in_process == 0
        _traces_in_process += 1
        return True

    def render(self, indices, seeds=None, on_steps: Callable[[int], None] | None = None,
               should_stop: Callable[[], bool] | None = None,
               initial: np.ndarray | None = None) -> BatchResult:
        """Optimise one image per row of ``indices`` ([batch, terms]) from its seed, or
        the images of ``indices`` when it is a :class:`Targets`. ``initial``: parameters
        to start every image from instead of noise. ``should_stop`` is asked after every
        step; when it says yes, :class:`RenderStopped` is raised."""
        started = time.perf_counter()
        traced = self._note_trace()
        if traced:
            self._trace()
        targets = indices if isinstance(indices, Targets) else Targets.simple(indices, seeds)
        with self.device.scope(), precision_scope(self.precision):
            start = (self.param.initial(targets.seeds) if initial is None else
                     np.broadcast_to(initial, (len(targets.seeds), *self.param.shape())))
            params = tf.constant(np.asarray(start, np.float32))
            target_tensors = self._target_tensors(targets)
            first_moment = tf.zeros_like(params)
            second_moment = tf.zeros_like(params)
            failed_at = tf.fill([self.batch_size], -1)
            start_images = self.param.to_image(params)
            extras = self._start_extras(start_images)
            objective_start = self._evaluate(params, target_tensors,
                                             extras["reference"])[0].numpy()
            reported, after_first_step = 0, time.perf_counter()
            for step in range(self.settings.steps):
                params, first_moment, second_moment, failed_at, extras = self._run_step(
                    params, first_moment, second_moment, failed_at, extras,
                    target_tensors, tf.constant(step))
                if step == 0:
                    after_first_step = time.perf_counter()
                if should_stop and should_stop():
                    raise RenderStopped(f"stopped at step {step + 1}")
                done = step + 1
                if on_steps and (done - reported == STEPS_PER_REPORT
                                 or done == self.settings.steps):
                    on_steps(done - reported)
                    reported = done
            steps_seconds = time.perf_counter() - after_first_step
            objective_end, images, distance = self._evaluate(params, target_tensors,
                                                             extras["reference"])
        images, objective_end = images.numpy(), objective_end.numpy()
        result = BatchResult(images=images, objective_start=objective_start,
                             objective_end=objective_end, seconds=time.perf_counter() - started,
                             failed_step=self._failed_steps(failed_at.numpy(), objective_start,
                                                            objective_end, images),
                             timed_steps=max(self.settings.steps - 1, 0),
                             steps_seconds=steps_seconds, traced=traced)
        if self.settings.alpha:
            result.attribution = extras["attribution"].numpy()
        if self.closeness:
            result.start_images = start_images.numpy()
            result.distance = distance.numpy()
            result.pixel_distance = np.sqrt(np.mean(np.square(images - result.start_images),
                                                    axis=(1, 2, 3)))
        return result

    def _failed_steps(self, failed_at, start, end, images) -> np.ndarray:
        """Per image, the step at which its numbers stopped being finite, or -1."""
        failed_at = failed_at.copy()
        failed_at[(failed_at < 0) & ~np.isfinite(start)] = 0
        last = np.isfinite(end) & np.isfinite(images).reshape(len(images), -1).all(axis=1)
        failed_at[(failed_at < 0) & ~last] = self.settings.steps
        return failed_at

    def _score(self, params, targets, reference):
        """(objective, images, distance from the seeds or zeros), on the images as they are
        written, without transforms."""
        images = self.param.to_image(params)
        distance = (self.closeness.distance(images, reference) if self.closeness
                    else tf.zeros([self.batch_size]))
        return self.objective.score(self._evaluate_forward(images), targets), images, distance

    def _scores(self, params, targets, step):
        """([batch] scores to maximise, [batch] penalties of the regularisers, [batch, size,
        size, channels] images)."""
        images = self.param.to_image(params)
        if self.transforms.crops:
            scores = self._crop_scores(images, targets, step)
        else:
            seen = self.transforms.apply(images, targets["seeds"], step)
            scores = self.objective.training_score(self._forward(seen), targets)
        return scores, regularizers.penalty(images, dict(self.settings.regularizers)), images

    def _crop_scores(self, images, targets, step):
        """The mean score of each image's crops: every crop of the batch goes through the
        network at once, and each crop's rows are scored as a batch of their own (so terms
        that couple a unit's images compare crops of one draw)."""
        views = self.transforms.crop_views(images, targets["seeds"], step,
                                           self.settings.steps, self.view_size)
        activations = self._forward(views)
        batch = self.batch_size
        per_crop = [self.objective.training_score(
                        {name: value[crop * batch:(crop + 1) * batch]
                         for name, value in activations.items()}, targets)
                    for crop in range(self.transforms.crops)]
        return tf.add_n(per_crop) / self.transforms.crops

    def _gradients(self, scores, penalties, params, images):
        """(the loss's gradient for the parameters, and with alpha the objective's alone
        for the pixels, else None)."""
        loss = tf.reduce_sum(penalties - scores)
        # tf.gradients, not a tape: the pruned network is an imported graph function,
        # which a GradientTape does not record.
        if not self.settings.alpha:
            return tf.gradients(loss, params)[0], None
        gradient, image_gradient = tf.gradients(loss, [params, images])
        if any(weight for _, weight in self.settings.regularizers):
            # take the regularisers' part away, which needs no pass through the network
            image_gradient -= tf.gradients(tf.reduce_sum(penalties), images)[0]
        return gradient, image_gradient

    def _step(self, params, first_moment, second_moment, failed_at, extras, targets, step):
        self.traces += 1  # runs only while tracing
        scores, penalties, images = self._scores(params, targets, step)
        gradient, image_gradient = self._gradients(scores, penalties, params, images)
        extras = dict(extras)
        if self.closeness:
            distance = self.closeness.distance(images, extras["reference"])
            pull = tf.gradients(tf.reduce_sum(distance), params)[0]
            gradient, extras["balance"] = self.closeness.pulled(gradient, pull,
                                                                extras["balance"])
        # An image whose score or gradient is NaN or infinite is failed from that step on
        # and frozen, so its numbers never reach another image's update.
        per_image = list(range(1, len(params.shape)))
        finite = tf.math.is_finite(scores) & tf.reduce_all(tf.math.is_finite(gradient),
                                                            axis=per_image)
        failed_at = tf.where((failed_at < 0) & ~finite, step, failed_at)
        healthy = tf.reshape(tf.cast(failed_at < 0, tf.float32), [-1] + [1] * len(per_image))
        if self.settings.alpha:
            extras["attribution"] += tf.math.multiply_no_nan(
                tf.reduce_sum(tf.abs(image_gradient), axis=-1),
                tf.reshape(tf.cast(failed_at < 0, tf.float32), [-1, 1, 1]))
        return (*_adam_update(params, first_moment, second_moment, gradient, healthy, step,
                              tf.constant(self.settings.learning_rate)), failed_at, extras)


@tf.function(jit_compile=True, autograph=False)
def _adam_update(params, first_moment, second_moment, gradient, healthy, step, learning_rate):
    """(parameters, first moment, second moment) after one Adam step. A failed image
    (``healthy`` 0) gets a zero gradient (multiply_no_nan: NaN times 0 is 0) and a zero
    step: it stays as it was. XLA fuses the dozen elementwise passes into one (0.75 ms ->
    0.4 ms at batch 8); multiplies, not a select, since a select broadcast over images
    costs more than the whole update."""
    gradient = tf.math.multiply_no_nan(gradient, healthy)
    t = tf.cast(step + 1, tf.float32)
    first_moment = ADAM_BETA1 * first_moment + (1 - ADAM_BETA1) * gradient
    second_moment = ADAM_BETA2 * second_moment + (1 - ADAM_BETA2) * tf.square(gradient)
    step_size = learning_rate * tf.sqrt(1 - ADAM_BETA2 ** t) / (1 - ADAM_BETA1 ** t) * healthy
    updated = params - step_size * first_moment / (tf.sqrt(second_moment) + ADAM_EPSILON)
    return updated, first_moment, second_moment


def job_objective(job) -> Objective:
    """A planned job's objective: its terms, the terms that couple its images, and how
    many images a unit has."""
    return Objective(job.terms, job.group_terms, job.images_per_unit)


def step_forward(network, objective: Objective, settings: RenderSettings):
    """The network's forward function a render of ``objective`` steps with: the layers and
    pre-activations the objective reads, at the size the transforms feed the network."""
    view_size = Transforms.of(settings.transforms).view_size(settings.size,
                                                             network.native_size)
    return network.forward(*objective.layers(network, revive=settings.revive), view_size)


class RendererCache:
    """One renderer per (objective, settings, batch size) on one device: jobs of the same
    shape share a traced step instead of tracing again."""

    def __init__(self, network, device: Device):
        self.network = network
        self.device = device
        self._renderers: dict = {}

    def get(self, job, batch_size: int, steps: int | None = None) -> Renderer:
        """The renderer for ``job``'s shape (a planned job: its terms, group terms, images
        per unit and settings) at ``batch_size`` images, optionally for other ``steps``."""
        key = self.shape(job, batch_size, steps)
        if key not in self._renderers:
            self._renderers[key] = Renderer(self.network, *key, self.device)
        return self._renderers[key]

    @staticmethod
    def shape(job, batch_size: int, steps: int | None = None) -> tuple:
        """What a renderer is traced for: (objective, settings, batch size); jobs of one
        shape share one trace."""
        objective = job_objective(job)
        settings = job.settings if steps is None else dataclasses.replace(job.settings,
                                                                           steps=steps)
        return objective, settings, batch_size
