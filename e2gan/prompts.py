"""A learned embedding for a new concept's prompt (textual inversion, trained beside LoRA).

A base conditions on its text encoder's embedding of the prompt. A word it never saw gets an arbitrary vector from
``hashed-words`` (and only as useful a one as a sentence encoder makes it), so the base starts from nothing useful
there. Here the prompt's token embeddings become trainable, starting where the base can use them: each word the base
never saw starts at the closest word it knows (by spelling), else at the mean of its known words. The result is saved
beside the adapter (``e2gan_prompts.safetensors``) and used by every path that embeds the prompt; at ``strength`` s
the embedding is ``encoder + s * (learned - encoder)``, so strength 0 is still the base alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from e2gan.files import PROMPTS, loads_bounded

ATTRIBUTE = "e2gan_prompts"  # where the module lives on the generator (so checkpoints and the optimiser see it)


class LearnedPrompts(nn.Module):
    """Trainable token embeddings of some prompts, with the encoder's own embedding kept to blend by strength."""

    def __init__(self, prompts: list[str], start: torch.Tensor, encoder: torch.Tensor, mask: torch.Tensor):
        super().__init__()
        self.prompts = list(prompts)
        self.vectors = nn.Parameter(start.clone())  # (P, T, dim)
        self.register_buffer("encoder", encoder.clone())
        self.register_buffer("mask", mask.clone())

    def get(self, prompt: str, strength: float = 1.0):
        """``(embeds (T, dim), mask (T,))`` of ``prompt``, or None when it is not one of these."""
        if prompt not in self.prompts:
            return None
        i = self.prompts.index(prompt)
        e = self.vectors[i] if strength == 1.0 else self.encoder[i] + strength * (self.vectors[i] - self.encoder[i])
        return e, self.mask[i]


def of(generator) -> LearnedPrompts | None:
    """The learned prompts a generator carries (peft-wrapped or not), or None."""
    return getattr(generator, ATTRIBUTE, None) if isinstance(generator, nn.Module) else None


def starting_embedding(student, prompt: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(start, encoder, mask)`` for ``prompt``: the encoder's embedding, and a start where words the base never saw
    are replaced by the closest word it knows, else by the mean of its words (for word-level encoders)."""
    enc = student.text_encoder
    embeds, mask = enc.encode([prompt])
    start = embeds[0].clone()
    vocabulary = sorted(student.vocabulary())
    if vocabulary and hasattr(enc, "tokens") and hasattr(enc, "_word"):  # hashed-words: one token per word
        import difflib

        mean = torch.stack([enc._word(w) for w in vocabulary]).mean(0)
        for j, word in enumerate(enc.tokens(prompt)):
            if word not in vocabulary:
                close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.6)
                start[j] = enc._word(close[0]) if close else mean
    return start, embeds[0], mask[0]


def attach(student, prompts: list[str]) -> LearnedPrompts:
    """Make ``prompts``' embeddings trainable on ``student`` (after LoRA is added: they stay trainable)."""
    if student.text_encoder is None:
        raise ValueError(f"backbone {student.backbone!r} takes no prompt: there is no prompt embedding to learn (drop --learn-prompt)")
    parts = [starting_embedding(student, p) for p in prompts]
    module = LearnedPrompts(prompts, *(torch.stack([part[k] for part in parts]) for k in range(3)))
    module.to(student.device)
    setattr(student.generator, ATTRIBUTE, module)
    return module


def save(student, folder) -> Path | None:
    """Write the learned prompts beside the adapter (nothing when there are none)."""
    from safetensors.torch import save_file

    from e2gan.io import atomic_save_file

    module = of(student.generator)
    if module is None:
        return None
    tensors = {"vectors": module.vectors.detach().cpu().contiguous(), "encoder": module.encoder.cpu().contiguous(),
               "mask": module.mask.cpu().contiguous()}
    path = Path(folder) / PROMPTS
    atomic_save_file(path, lambda p: save_file(tensors, p, metadata={"prompts": json.dumps(module.prompts)}))
    return path


def load(student, folder) -> LearnedPrompts | None:
    """Attach the learned prompts saved in an adapter folder (frozen), if it has any."""
    from safetensors import safe_open

    path = Path(folder) / PROMPTS
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as f:
            prompts = loads_bounded((f.metadata() or {}).get("prompts", "null"), f"{path} (its prompts)")
            tensors = {k: f.get_tensor(k) for k in ("vectors", "encoder", "mask")}
    except Exception as exc:  # noqa: BLE001  safetensors' own errors, a missing key, bad JSON
        raise ValueError(f"{path} is not a valid learned-prompt file ({type(exc).__name__}: {str(exc)[:200]}); copy the adapter again") from None
    if not isinstance(prompts, list) or len(prompts) != len(tensors["vectors"]):
        raise ValueError(f"{path} does not say which prompts its {len(tensors['vectors'])} embeddings are for; copy the adapter again")
    module = LearnedPrompts(prompts, tensors["vectors"], tensors["encoder"], tensors["mask"].bool()).requires_grad_(False)
    module.to(student.device)
    setattr(student.generator, ATTRIBUTE, module)
    return module
