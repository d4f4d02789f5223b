"""Job files -> checked job specs, without TensorFlow.

``load_job_file`` reads and checks a YAML job file on its own; resolving its jobs against a
model (layer names, channel counts) is the plan's work (:mod:`fvcli.sweep.plan`).
"""

from .errors import SpecError
from .jobs import JobFile, JobSpec, WrittenTerm, load_job_file, parse_indices
from .schema import (CLASS_KINDS, DEFAULTS, DIRECTION_KINDS, KINDS, LAYER_KINDS, LOGITS,
                     PRECISIONS, SETTINGS, UNIT_KINDS)
from .settings import ParamSpec, RenderSettings, TransformSpec
from .terms import GroupTerm, Term, describe_terms

__all__ = ["SpecError", "JobFile", "JobSpec", "WrittenTerm", "load_job_file", "parse_indices",
           "CLASS_KINDS", "DEFAULTS", "DIRECTION_KINDS", "GroupTerm", "KINDS", "LAYER_KINDS",
           "LOGITS", "PRECISIONS",
           "SETTINGS", "UNIT_KINDS", "ParamSpec", "RenderSettings", "TransformSpec", "Term",
           "describe_terms"]
