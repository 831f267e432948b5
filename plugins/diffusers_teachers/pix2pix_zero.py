"""Teacher ``pix2pix-zero`` (Parmar et al.): DDIM-invert each source, then edit along the direction
between two sets of sentences, with cross-attention guidance to keep the structure.

A concept is written ``source -> target`` (``"cat -> dog"``). The sentence sets come from
``source_sentences`` / ``target_sentences`` (lists, or paths of text files, one sentence per line);
otherwise from templates around each side ("a photo of a cat", ...). Their mean CLIP embeddings are
cached on disk (``cache_dir``), keyed by model, revision and sentences. The inversion caption is
``caption`` (one for all images) or, if empty, the source side of the prompt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image

from .loading import (
    generators,
    model_folder,
    require_diffusers,
    resolve_device,
    resolve_dtype,
)

TEMPLATES = ["a photo of a {}", "a picture of a {}", "an image of a {}", "a close-up photo of a {}", "a {} in the scene",
             "a good photo of a {}", "a bright photo of a {}", "a cropped photo of a {}"]


def split_concept(prompt: str) -> tuple[str, str]:
    if "->" not in prompt:
        raise ValueError(f"pix2pix-zero describes a concept as 'source -> target' (e.g. 'cat -> dog'), got {prompt!r}")
    src, tgt = (s.strip() for s in prompt.split("->", 1))
    if not src or not tgt:
        raise ValueError(f"both sides of {prompt!r} must be non-empty")
    return src, tgt


def _sentences(value, word: str) -> list[str]:
    if value is None:
        return [t.format(word) for t in TEMPLATES]
    if isinstance(value, str):
        path = Path(value)
        if not path.is_file():
            raise FileNotFoundError(f"sentence file {value} does not exist (give a list of sentences or a text file, one per line)")
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return list(value)


class Pix2PixZeroTeacher:
    def __init__(self, model: str = "CompVis/stable-diffusion-v1-4", revision: str | None = None, steps: int = 50,
                 guidance_scale: float = 7.5, cross_attention_guidance_amount: float = 0.15, caption: str | None = None,
                 source_sentences=None, target_sentences=None, resolution: int = 512, batch_size: int = 1,
                 dtype: str = "auto", device: str = "auto", cache_dir: str | None = None):
        require_diffusers()
        from diffusers import (
            DDIMInverseScheduler,
            DDIMScheduler,
            StableDiffusionPix2PixZeroPipeline,
        )

        self.device = resolve_device(device)
        folder, resolved = model_folder(model, revision)
        self.pipe = StableDiffusionPix2PixZeroPipeline.from_pretrained(
            str(folder), torch_dtype=resolve_dtype(dtype, self.device), safety_checker=None, requires_safety_checker=False,
            caption_generator=None, caption_processor=None, feature_extractor=None)
        self.pipe.scheduler = DDIMScheduler.from_config(self.pipe.scheduler.config)
        self.pipe.inverse_scheduler = DDIMInverseScheduler.from_config(self.pipe.scheduler.config)
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.batch_size, self.resolution, self.steps = batch_size, resolution, steps
        self.guidance_scale, self.xa = guidance_scale, cross_attention_guidance_amount
        self.caption = caption
        self.sentence_sources = {"source": source_sentences, "target": target_sentences}
        self.cache_dir = Path(cache_dir or Path.home() / ".cache" / "e2gan" / "pix2pix-zero")
        self.model_ref = f"{model}@{resolved}"
        self.settings = {"model": model, "revision": resolved, "steps": steps, "guidance_scale": guidance_scale,
                         "cross_attention_guidance_amount": cross_attention_guidance_amount, "caption": caption,
                         "resolution": resolution, "dtype": str(self.pipe.unet.dtype),
                         "source_sentences": source_sentences, "target_sentences": target_sentences}

    def direction_embeds(self, prompt: str):
        """(source, target) mean sentence embeddings for a 'src -> tgt' concept, cached on disk."""
        from safetensors.torch import load_file, save_file

        src_word, tgt_word = split_concept(prompt)
        out = []
        for side, word in (("source", src_word), ("target", tgt_word)):
            sentences = _sentences(self.sentence_sources[side], word)
            key = hashlib.sha256(json.dumps([self.model_ref, sentences]).encode()).hexdigest()[:24]
            path = self.cache_dir / f"{key}.safetensors"
            if path.exists():
                emb = load_file(str(path))["embeds"]
            else:
                emb = self.pipe.get_embeds(sentences, batch_size=16).detach().float().cpu()
                from e2gan.io import atomic_save_file

                atomic_save_file(path, lambda p, e=emb: save_file({"embeds": e.contiguous()}, p))
            out.append(emb.to(self.device, self.pipe.unet.dtype))
        return out[0], out[1]

    def edit(self, images: list[Image.Image], prompt: str, seeds: list[int]) -> list[Image.Image]:
        src_emb, tgt_emb = self.direction_embeds(prompt)
        caption = self.caption or TEMPLATES[0].format(split_concept(prompt)[0])
        r = self.resolution
        results = []
        for im, gen in zip(images, generators(seeds, self.device)):
            sized = im.convert("RGB").resize((r, r), Image.LANCZOS)
            inv = self.pipe.invert(caption, image=sized, num_inference_steps=self.steps, generator=gen).latents
            gen.manual_seed(int(gen.initial_seed()))
            edited = self.pipe(caption, source_embeds=src_emb, target_embeds=tgt_emb, num_inference_steps=self.steps,
                               guidance_scale=self.guidance_scale, cross_attention_guidance_amount=self.xa, generator=gen,
                               latents=inv, negative_prompt=caption).images[0]
            results.append(edited.resize(im.size, Image.LANCZOS))
        return results
