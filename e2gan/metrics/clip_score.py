"""CLIP score (Hessel et al.): how well outputs agree with the prompt, 100 * max(cos(image, text), 0),
as torchmetrics defines it. Needs CLIP weights (a Hub id or a local folder); without them e2gan says
"skipped" instead of printing a number."""

from __future__ import annotations

import torch


class CLIPScorer:
    def __init__(self, model: str, revision: str | None = None, device: str = "cpu"):
        try:
            from transformers import CLIPModel, CLIPProcessor
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("CLIP score needs transformers: pip install 'e2gan[diffusers]'") from exc
        self.model = CLIPModel.from_pretrained(model, revision=revision, use_safetensors=True).eval().to(device)
        self.processor = CLIPProcessor.from_pretrained(model, revision=revision)
        self.device = device

    @torch.no_grad()
    def __call__(self, images_u8: torch.Tensor, prompts: list[str]) -> float:
        """Mean CLIP score of uint8 images (N, 3, H, W) against their prompts."""
        imgs = [im.permute(1, 2, 0).cpu().numpy() for im in images_u8]
        inputs = self.processor(text=list(prompts), images=imgs, return_tensors="pt", padding=True, truncation=True).to(self.device)
        img = self.model.get_image_features(pixel_values=inputs["pixel_values"])
        txt = self.model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        img = getattr(img, "pooler_output", img)
        txt = getattr(txt, "pooler_output", txt)
        cos = torch.nn.functional.cosine_similarity(img, txt, dim=-1)
        return float((100 * cos.clamp_min(0)).mean())
