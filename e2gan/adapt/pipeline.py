"""Step 3 in full: score layer importance, pick the crucial layers, search LoRA ranks, select a
representative subset of the data, then train only LoRA. Each of the three choices is a plugin
(``register_importance_scorers``, ``register_rank_searchers``, ``register_data_selectors``)."""

from __future__ import annotations

import time
from dataclasses import asdict, replace

import torch

from e2gan.adapt.features import pair_features
from e2gan.adapt.search import (
    LAYER_MODES,
    SearchContext,
    budget_of,
    select_layers,
    split_validation,
)
from e2gan.config import AdaptConfig, TrainConfig, lora_train_config  # noqa: F401  (re-exported)
from e2gan.data.dataset import PairTensors
from e2gan.engine import train
from e2gan.io import write_training_log
from e2gan.lora import add_lora, lora_candidates, paper_targets, save_adapter
from e2gan.settings import parse_spec


def finetune(base_ref: str, pairs: PairTensors, out, cfg: TrainConfig | None = None, targets: list[str] | None = None,
             ranks: int | dict = 4, progress=True, meta: dict | None = None, student=None, callback=None, resume: bool = True,
             train_norms: bool = False, rescale: bool = False, learn_prompt: bool = False):
    """LoRA on a frozen base for one new concept (the backbone's paper preset unless ``targets``);
    writes a peft adapter folder. Returns ``(student, log)``. ``train_norms``, ``rescale``, ``learn_prompt``: see
    :class:`e2gan.config.AdaptConfig`."""
    from e2gan.adapt.rescale import Rescaled
    from e2gan.student import Student

    cfg = cfg or lora_train_config()
    student = student or Student.from_pretrained(base_ref)
    fingerprint = student.fingerprint()
    targets = targets or paper_targets(student.generator)
    torch.manual_seed(cfg.seed)  # LoRA's initialisation follows the run's seed
    scaled = Rescaled(student.generator).apply() if rescale else None
    add_lora(student, targets, ranks, train_norms=train_norms)
    if learn_prompt:
        from e2gan.prompts import attach

        attach(student, sorted(set(pairs.prompts)))
    student.meta["base_fingerprint"] = fingerprint
    student.meta["lora"].update(rescale=bool(rescale), learn_prompt=bool(learn_prompt))
    from e2gan.fullres import training_side
    from e2gan.outputs import is_main_process
    from e2gan.outputs import training_lock

    with training_lock(out):
        t0 = time.perf_counter()
        log = train(student, pairs, cfg, progress=progress, desc="finetune[lora]", callback=callback, out=out, resume=resume)
        student.generator.cpu()
        if scaled is not None:  # the same module objects, now wrapped by peft: fold the scale out of lora_B and the biases
            scaled.undo()
        prompts = sorted(set(pairs.prompts))
        info = {"prompt": prompts[0] if len(prompts) == 1 else prompts, "trainable_parameters": student.num_parameters(True),
                "base_parameters": student.num_parameters() - student.num_parameters(True), "train": asdict(cfg),
                "seconds": round(time.perf_counter() - t0, 2), "lora": student.meta["lora"], "resolution": training_side(pairs, cfg),
                **{k: student.meta[k] for k in ("world_size", "global_batch") if k in student.meta}, **(meta or {})}
        if is_main_process():  # under `accelerate launch`, one process writes
            save_adapter(student, out, base_ref, info)
            write_training_log(out, log)
    student.meta.update(info)
    return student, log


def adapt(base_ref: str, pairs: PairTensors, out, config: AdaptConfig | None = None, *, cfg: TrainConfig | None = None, seed: int = 0,
          progress: bool = True, callback=None, revision: str | None = None, resume: bool = True, student=None, record: dict | None = None,
          **choices):
    """The full adaptation step; returns ``(student, log, info)`` and writes the adapter to ``out``.

    ``config`` (an :class:`e2gan.config.AdaptConfig`; its fields may also be given as keywords) says where LoRA goes
    (``layers``: a mode of :func:`select_layers`, or module names), its ranks (``search``) and which pairs train it
    (``select``). Without an explicit ``budget``, every searcher but one given a fixed rank (``uniform:rank=4``) gets
    ``budget_fraction`` of the parameters of uniform rank 4 on the chosen layers (the paper's "4x"), so searched,
    random and ``uniform`` (the largest uniform rank that fits) compete at one weight budget. ``student``: the base,
    if the caller already loaded it from ``base_ref``. ``record``: more to keep in the adapter's record (its teacher, say)."""
    from e2gan.outputs import training_lock

    with training_lock(out):  # held from the first trial: a second run into `out` is refused before it spends anything
        return _adapt(base_ref, pairs, out, replace(config or AdaptConfig(), **choices), cfg, seed, progress, callback, revision, resume, student,
                      record or {})


def _adapt(base_ref, pairs, out, config: AdaptConfig, cfg, seed, progress, callback, revision, resume, student, record):
    from e2gan.student import Student

    layers = config.layers
    if isinstance(layers, str) and layers not in LAYER_MODES:  # explicit module names, comma-separated
        layers = [n.strip() for n in layers.split(",") if n.strip()]
    if layers in ("top-k", "cumulative") and not config.scorer:
        raise ValueError(f"layers={layers!r} ranks layers by importance: pass a scorer (e.g. fisher)")
    cfg = cfg or lora_train_config(seed=seed)
    student = student or Student.from_pretrained(base_ref, revision=revision)
    info: dict = {"data_total": len(pairs)}
    pairs = _select_data(student, pairs, config, seed, info)
    chosen, scores = _choose_layers(student, pairs, config, layers, seed, info)
    ranks = _search_ranks(student, pairs, config, chosen, seed, cfg.lr, info)
    student, log = finetune(base_ref, pairs, out, cfg, targets=list(ranks), ranks=ranks, progress=progress, student=student, callback=callback,
                            resume=resume, train_norms=config.train_norms, rescale=config.rescale, learn_prompt=config.learn_prompt,
                            meta={"adapt": {k_: v for k_, v in info.items() if k_ != "scores"}, "layer_scores": scores,
                                  **({"base_revision": revision} if revision else {}), **record})
    info["train_seconds"] = student.meta["seconds"]
    info["trainable_parameters"] = student.meta["trainable_parameters"]
    return student, log, info


def _select_data(student, pairs: PairTensors, config: AdaptConfig, seed: int, info: dict) -> PairTensors:
    """The representative subset (``config.select``, ``fraction`` or ``count``), or all pairs."""
    from e2gan.registry import create_data_selector

    t0 = time.perf_counter()
    n = len(pairs)
    want = config.count or (max(1, round(config.fraction * n)) if config.fraction else n)
    sel_name, sel_settings = parse_spec(config.select)
    if sel_name != "all" and want < n:
        selector = create_data_selector(sel_name, **sel_settings)
        needs = getattr(selector, "needs_features", True)
        feats = pair_features(student, pairs) if needs else torch.zeros(n, 0)
        pairs = pairs.subset(selector.select(feats, want, seed))
    info.update(selector=config.select, data_used=len(pairs), select_seconds=round(time.perf_counter() - t0, 2))
    return pairs


def _choose_layers(student, pairs: PairTensors, config: AdaptConfig, layers, seed: int, info: dict) -> tuple[list[str], dict]:
    """The layers LoRA goes on: the preset, explicit names, or the best by an importance scorer."""
    from e2gan.registry import create_scorer

    t0 = time.perf_counter()
    candidates = lora_candidates(student.generator)
    scores = {}
    if config.scorer:
        sc_name, sc_settings = parse_spec(config.scorer)
        scores = create_scorer(sc_name, **sc_settings).score(student, pairs, candidates, seed)
    chosen = select_layers(scores, layers, config.top_k, config.threshold, student.generator)
    info.update(scorer=config.scorer, scores=scores, layer_mode=layers, layers=chosen, score_seconds=round(time.perf_counter() - t0, 2))
    return chosen, scores


def _search_ranks(student, pairs: PairTensors, config: AdaptConfig, chosen: list[str], seed: int, lr: float, info: dict) -> dict[str, int]:
    """Each chosen layer's LoRA rank, from the rank searcher within the weight budget."""
    from e2gan.registry import create_searcher

    t0 = time.perf_counter()
    s_name, s_settings = parse_spec(config.search)
    budget = config.budget
    if budget is None and not (s_name == "uniform" and s_settings.get("rank") is not None):
        budget = int(config.budget_fraction * budget_of(student.generator, chosen, 4))
    fit, val = split_validation(pairs, seed=seed) if len(pairs) > 4 else (pairs, pairs)
    ctx = SearchContext(student, chosen, budget, fit, val, trial_steps=config.trial_steps, seed=seed, lr=lr)
    ranks = {n: r for n, r in create_searcher(s_name, **s_settings).search(ctx).items() if r > 0}
    if budget is not None and ctx.cost(ranks) > budget:
        import warnings

        warnings.warn(f"rank searcher {config.search!r} exceeded its budget: {ctx.cost(ranks):,} LoRA weights for a budget of {budget:,}")
        info["over_budget"] = ctx.cost(ranks) - budget
    info.update(searcher=config.search, budget=budget, ranks=ranks, search_trials=ctx.trials, search_seconds=round(time.perf_counter() - t0, 2),
                search_steps=len(ctx.trials) * config.trial_steps + (40 if ctx._deltas is not None else 0))
    return ranks
