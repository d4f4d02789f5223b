"""fvcli layers and fvcli model fetch: what a model offers, and getting it for offline use."""

from __future__ import annotations

import click

from ..config.schema import SETTINGS
from .common import MODELS_TEXT, load_network_or_fail, model_failure, option_type


@click.command(short_help="The layers you can visualise: name, alias, shape, channels.")
@click.option("--model", default="inception_v1", show_default=True,
              help=f"The model: {MODELS_TEXT}.")
@click.option("--all", "show_all", is_flag=True,
              help="Also list layers inside others (e.g. the branches of Mixed_4b).")
@click.option("--size", type=option_type(SETTINGS["size"]), default=SETTINGS["size"].default,
              show_default=True, help="Image size the shapes are given at: the render size.")
def layers(model, show_all, size):
    """List the layers you can visualise: name, Distill alias, shape and channels.

    Standard output is the table alone, a header line and a row per layer, for grep and
    awk; the model it lists goes to standard error.
    """
    given = (click.get_current_context().get_parameter_source("model")
             != click.core.ParameterSource.DEFAULT)
    network = load_network_or_fail(
        model, table_size=size, where="--model" if given else "the default model",
        offline_hint="or list the layers of the built-in model, which needs no download: "
                     "`fvcli layers --model demo`")
    shown = network.layers if show_all else network.top_level_layers()
    width = max(len(layer.name) for layer in shown)
    where = f" ({network.description})" if network.description != network.name else ""
    click.echo(f"fvcli: layers of {network.name}{where}", err=True)
    click.echo(f"{'layer':<{width}}  {'alias':<8}  {'shape':<16}  channels")
    for layer in shown:
        shape = "x".join(str(d) for d in layer.shape)
        click.echo(f"{layer.name:<{width}}  {layer.alias or '':<8}  {shape:<16}  "
                   f"{layer.channels}")


@click.group("model")
def model_group():
    """Manage models: download them for offline use."""


@model_group.command()
@click.argument("handle", required=False)
def fetch(handle):
    """Download a TF-Hub model (default: InceptionV1) into the TF-Hub cache.

    Run this on a machine with internet, then render on offline nodes with
    TFHUB_CACHE_DIR pointing at the same cache (copy it if they do not share a disk).
    """
    from ..models.errors import ModelError
    from ..models.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()
    from ..models.loading import fetch_to_cache
    from ..config.model_names import DEFAULT_HANDLE

    try:
        folder = fetch_to_cache(handle or DEFAULT_HANDLE)
    except ModelError as error:
        model_failure(error)
    click.echo(folder)
