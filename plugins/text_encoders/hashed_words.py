"""A text encoder that needs no download: each word maps to a fixed pseudo-random vector derived
from its SHA-256, so the same prompt gives the same tokens on every machine. It carries no
semantics (``"snow"`` is as far from ``"winter"`` as from ``"zombie"``); the generator learns what
each base prompt means, and LoRA adapts it to a new one. Use ``clip`` for real semantics."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import torch

_WORD = re.compile(r"[\w']+")


class HashedWordsEncoder:
    def __init__(self, dim: int = 64, max_tokens: int = 16):
        for key, value, high in (("dim", dim, 4096), ("max_tokens", max_tokens, 512)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ValueError(f"hashed-words text encoder: {key} is {value!r}; it must be an integer from 1 to {high}")
        self.dim = dim
        self.max_tokens = max_tokens
        self.settings = {"dim": dim, "max_tokens": max_tokens}
        self._cache: dict[str, torch.Tensor] = {}

    def _word(self, word: str) -> torch.Tensor:
        if word not in self._cache:
            seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            self._cache[word] = torch.from_numpy(vec)
        return self._cache[word]

    def tokens(self, prompt: str) -> list[str]:
        words = _WORD.findall(prompt.lower())[: self.max_tokens]
        return words or ["<empty>"]

    @torch.no_grad()
    def encode(self, prompts: list[str]):
        embeds = torch.zeros(len(prompts), self.max_tokens, self.dim)
        mask = torch.zeros(len(prompts), self.max_tokens, dtype=torch.bool)
        for i, prompt in enumerate(prompts):
            for j, word in enumerate(self.tokens(prompt)):
                embeds[i, j] = self._word(word)
                mask[i, j] = True
        return embeds, mask
