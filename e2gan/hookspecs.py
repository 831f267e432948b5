"""The plugin contract: one ``register_*`` hook per kind of interchangeable part.

Each hook receives a ``register`` callback; a plugin calls it once per thing it provides::

    from e2gan import hookimpl

    @hookimpl
    def register_teachers(register):
        register("my-teacher", MyTeacher, description="what it does")

``register(name, factory, description="")``: ``factory(**settings)`` builds the thing. Names are
global per kind; two plugins registering the same name is an error that names both.
Built-in parts live in ``plugins/`` and are registered through the ``e2gan`` entry-point group,
exactly as a third-party package registers its own.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("e2gan")
hookimpl = pluggy.HookimplMarker("e2gan")


def lazy(module: str, attr: str, package: str | None = None, **defaults):
    """A factory that imports ``module.attr`` on first call: listing plugins then imports no torch.
    ``register("fisher", lazy(".scorers", "FisherScorer", __package__))``."""
    import importlib

    def target():
        return getattr(importlib.import_module(module, package), attr)

    def build(**settings):
        return target()(**{**defaults, **settings})

    build.__name__ = attr
    build.target = target  # what the registry inspects to list the settings a factory takes
    return build


@hookspec
def register_backbones(register):
    """Generators. ``factory(**config)`` returns a ``torch.nn.Module`` with a dataclass ``config``
    (``factory(**asdict(config))`` rebuilds it) and ``forward(image, text_embeds=None, text_mask=None)``
    mapping images in [-1, 1], shape (B, 3, H, W), to edited images of the same shape.

    Optional attributes the core reads (the conformance kit, ``e2gan.testing.check_backbone``, checks each one
    that is declared):

    - ``text_conditioned`` (bool, default False): ``forward`` uses the prompt's embeddings (B, T, ``config.text_dim``)
      and mask (B, T); the student then gets a text encoder whose ``dim`` sets ``config.text_dim``.
    - ``size_multiple`` (int, default 8): height and width must be multiples of it; every inference path pads to
      it and crops back (``e2gan.inference``).
    - ``lora_targets`` (regexes over module names, full match): the preset LoRA placement (``--layers paper``).
    - ``feature_module`` (a module name): whose output, mean-pooled, describes an image for data selection.
    - ``default_discriminator`` (``(name, settings)``): the discriminator the engine trains against, instead of
      PatchGAN.
    - ``extra_macs(inputs, output) -> int`` on any submodule: multiply-accumulates that are no conv or linear
      layer (attention's products), for ``e2gan.metrics.macs``."""


@hookspec
def register_discriminators(register):
    """Discriminators. ``factory(**config)`` returns a module scoring ``(source, image)`` pairs.

    Optional attributes the engine reads: ``gan_loss`` (``"lsgan"``, the default, or ``"nonsaturating"``: softplus
    losses), ``r1_gamma`` (float) and ``r1_every`` (int): lazy R1 on real images every that many steps (with
    ``"nonsaturating"``)."""


@hookspec
def register_teachers(register):
    """Teachers (image editors to distil). ``factory(**settings)`` returns an object with
    ``settings`` (a JSON-able dict that, with the prompt and seed, determines the output) and
    ``edit(images: list[PIL.Image], prompt: str, seeds: list[int]) -> list[PIL.Image]``.
    Optional: ``concepts()`` (prompts it knows), ``batch_size``, ``held_out()`` (``{kind: [prompts]}``
    reserved for evaluation, never trained into a base; the demo and ``compare`` adapt to the first of each kind),
    ``base_concepts()`` (the pool a base may train on; default ``concepts()`` minus ``held_out()``),
    ``colour_only`` (bool: its concepts are colour edits, so offline crops come from colour photos only and
    ``--photos`` may add fetched ones; default False) and ``demo`` (a dict of ``e2gan demo`` defaults for it,
    e.g. ``{"equal_time": True}``)."""


@hookspec
def register_text_encoders(register):
    """Prompt encoders for the generator's cross-attention. ``factory(**settings)`` returns an
    object with ``dim``, ``settings`` (saved with the model) and
    ``encode(prompts) -> (embeds (B, T, dim) float tensor, mask (B, T) bool tensor)``."""


@hookspec
def register_importance_scorers(register):
    """Layer-importance scorers for choosing where LoRA goes. ``factory(**settings)`` returns an
    object with ``score(student, pairs, layers, seed) -> dict[layer_name, float]`` (higher = more
    important); ``pairs`` is an ``e2gan.data.PairTensors`` of the new concept."""


@hookspec
def register_rank_searchers(register):
    """LoRA rank-search strategies. ``factory(**settings)`` returns an object with
    ``search(ctx) -> dict[layer_name, rank]`` (a peft ``rank_pattern``); ``ctx`` is an
    ``e2gan.adapt.SearchContext`` (layers, budget, cost(), trial(), deltas())."""


@hookspec
def register_data_selectors(register):
    """Training-subset selectors. ``factory(**settings)`` returns an object with
    ``select(features (N, D) tensor, count, seed) -> list[int]`` (sorted indices into the data).
    A selector that ignores the features sets ``needs_features = False`` (it then gets an (N, 0) tensor)."""


@hookspec
def register_concept_selectors(register):
    """Which of a teacher's concepts a base trains on. ``factory(**settings)`` returns an object with
    ``select(pool: list[str], count: int, seed: int, effects) -> list[str]``; ``effects(prompts)``
    returns an (N, D) float tensor describing what each concept does to a fixed probe set of photos
    (computed on demand; a selector that ignores it sets ``needs_effects = False``)."""
