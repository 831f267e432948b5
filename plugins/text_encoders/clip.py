"""CLIP's text tower (transformers ``CLIPTextModel`` + ``CLIPTokenizer``) from any Hub id or local
folder: the encoder for real use. Token embeddings (last hidden state) feed the cross-attention."""

from __future__ import annotations

import torch


class CLIPTextEncoder:
    def __init__(self, model: str = "openai/clip-vit-base-patch32", revision: str | None = None, max_tokens: int = 77, device: str = "cpu"):
        try:
            from transformers import CLIPTextModel, CLIPTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("the 'clip' text encoder needs transformers: pip install 'e2gan[diffusers]'") from exc
        self.tokenizer = CLIPTokenizer.from_pretrained(model, revision=revision)
        self.model = CLIPTextModel.from_pretrained(model, revision=revision, use_safetensors=True).eval().to(device)
        self.model.requires_grad_(False)
        self.device = device
        self.max_tokens = min(max_tokens, self.tokenizer.model_max_length)
        self.dim = self.model.config.hidden_size
        self.settings = {"model": model, "revision": revision, "max_tokens": self.max_tokens}

    @torch.no_grad()
    def encode(self, prompts: list[str]):
        tok = self.tokenizer(list(prompts), padding="max_length", truncation=True, max_length=self.max_tokens, return_tensors="pt")
        out = self.model(input_ids=tok.input_ids.to(self.device), attention_mask=tok.attention_mask.to(self.device))
        return out.last_hidden_state.float().cpu(), tok.attention_mask.bool()
