"""The names and defaults every layer of fvcli shares: objective kinds, precisions and the
settings a job may set, each with its default, its range and its help text.

The YAML checker, the command line's options and the render settings all read this table,
so they cannot drift apart. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

LOGITS = "logits"  # the layer name of a model's output

UNIT_KINDS = ("channel", "neuron")          # one unit per channel of a layer
CLASS_KINDS = ("logit", "probability")      # one unit per class of the logits
LAYER_KINDS = ("deepdream",)                # one unit for the whole layer
DIRECTION_KINDS = ("direction",)            # one unit per direction in activation space
KINDS = UNIT_KINDS + LAYER_KINDS + CLASS_KINDS + DIRECTION_KINDS  # kinds of a term
JOB_KINDS = KINDS + ("interpolate",)        # kinds a job's objective may name

PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Setting:
    """One setting: its default, the values it takes and what it means. The job-file
    checker, the command line's options and :class:`RenderSettings` all read these."""

    default: object
    help: str
    kind: str = "structured"   # whole, number, whole_or_auto, boolean, choice; structured
                               # values (param, transforms, regularizers) check themselves
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def described(self) -> str:
        """The help text with the default, as ``--help`` shows it."""
        default = self.default
        if isinstance(default, bool):
            default = "on" if default else "off"
        elif isinstance(default, dict):
            default = ", ".join(f"{name} {value:g}" for name, value in default.items())
        return f"{self.help} (default {default})."

    def range_text(self) -> str:
        """'from 16 to 2048' or 'from 1 to 1024 or auto', for error messages."""
        low, high = (f"{bound:g}" for bound in (self.low, self.high))
        return f"from {low} to {high}" + (" or auto" if self.kind == "whole_or_auto" else "")


REGULARIZERS = ("l1", "tv", "blur")
SETTINGS = {
    "size": Setting(128, "Image side in pixels", "whole", 16, 2048),
    # a million steps is days per image: beyond that, a typo
    "steps": Setting(512, "Optimisation steps per image; 0 writes the starting image",
                     "whole", 0, 1_000_000),
    "batch_size": Setting(16, "Images optimised together; auto picks it from the device's "
                              "free memory and prints the estimate", "whole_or_auto", 1, 1024),
    "seed": Setting(0, "Random seed", "whole", 0, 2**31 - 1),
    "learning_rate": Setting(0.05, "Adam's learning rate", "number", 1e-9, 10.0),
    "param": Setting("fft", "How the image is held: fft (a scaled Fourier spectrum with "
                            "decorrelated colours), pixel, {fft, decorrelate, decay_power}, "
                            "or maco (only the spectrum's phase is optimised, its magnitude "
                            "is natural images'; {maco: {spectrum: FILE}} takes a magnitude "
                            "from `fvcli spectrum`)"),
    "transforms": Setting("standard", "Random transforms before each step: standard (pad "
                                      "12, jitter 8, scale 0.9-1.1, rotate 10, jitter 4), "
                                      "maco (8 random crops of the canvas a step, from all "
                                      "of it to half its side, plus noise; maco's default), "
                                      "none, or a list of {pad}, {jitter}, {scale}, {rotate}, "
                                      "or of {crops}, {crop_box}, {noise}, {view}"),
    "regularizers": Setting({name: 0.0 for name in REGULARIZERS},
                            "Penalty weights on the image: {l1, tv, blur}"),
    "revive": Setting(True, "Optimise dead (all-zero) units through their pre-activation "
                            "until they come alive", "boolean"),
    "precision": Setting("auto", "Arithmetic of the network: auto is bf16 on CPUs that "
                                 "compute it natively (AVX512-BF16, AMX), fp16 on GPUs with "
                                 "tensor cores, else fp32. Images and optimiser state stay "
                                 "fp32", "choice", choices=PRECISIONS),
    "alpha": Setting(False, "Also write units/<unit>.alpha.png, a grey map of where the "
                            "image mattered to the objective (its gradient, accumulated); "
                            "on unless set for param maco and accentuation", "boolean"),
    "xla": Setting(False, "Compile the optimisation step with XLA: it helps on GPUs and is "
                          "slower on CPUs", "boolean"),
}
SETTING_KEYS = tuple(SETTINGS)
DEFAULTS = {name: setting.default for name, setting in SETTINGS.items()}

# fvcli examples: how many examples of each kind a unit shows, and how many images are
# scored in one forward pass (a whole number: the folder is streamed in such batches)
EXAMPLES_TOP = Setting(8, "Examples of each kind per unit", "whole", 1, 100)
EXAMPLES_BATCH = Setting(32, "Images scored at once", "whole", 1, 1024)
