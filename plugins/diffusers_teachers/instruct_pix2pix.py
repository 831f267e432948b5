"""Teacher ``instruct-pix2pix``: InstructPix2Pix (Brooks et al.); prompts are instructions.

A pair's pixels follow its source, prompt, seed and settings, which is what the data set's cache key records. Float
kernels differ with the batch's shape, so by default (``deterministic=True``) every image is denoised in a call of
its own: the same pair comes out the same whatever ``batch_size`` and however the images are grouped. With
``deterministic=False`` images are denoised ``batch_size`` at a time (faster on a GPU), and a pair may differ in the
last bits between batch layouts; the setting is part of the key, so the two kinds never mix in one cache."""

from __future__ import annotations

from PIL import Image

from .loading import (
    generators,
    model_folder,
    require_diffusers,
    resolve_device,
    resolve_dtype,
    set_scheduler,
)


class InstructPix2PixTeacher:
    def __init__(self, model: str = "timbrooks/instruct-pix2pix", revision: str | None = None, steps: int = 20,
                 guidance_scale: float = 7.5, image_guidance_scale: float = 1.5, resolution: int = 512, batch_size: int = 4,
                 dtype: str = "auto", device: str = "auto", scheduler: str | None = "EulerAncestralDiscreteScheduler",
                 deterministic: bool = True):
        require_diffusers()
        from diffusers import StableDiffusionInstructPix2PixPipeline

        self.device = resolve_device(device)
        folder, resolved = model_folder(model, revision)
        self.pipe = StableDiffusionInstructPix2PixPipeline.from_pretrained(
            str(folder), torch_dtype=resolve_dtype(dtype, self.device), safety_checker=None, requires_safety_checker=False)
        set_scheduler(self.pipe, scheduler).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.batch_size = batch_size
        self.deterministic = bool(deterministic)
        self.resolution = resolution
        self.call = {"num_inference_steps": steps, "guidance_scale": guidance_scale, "image_guidance_scale": image_guidance_scale}
        self.settings = {"model": model, "revision": resolved, "resolution": resolution, "dtype": str(self.pipe.unet.dtype),
                         "scheduler": type(self.pipe.scheduler).__name__, **self.call, **({} if deterministic else {"deterministic": False})}

    def edit(self, images: list[Image.Image], prompt: str, seeds: list[int]) -> list[Image.Image]:
        r = self.resolution
        sized = [im.convert("RGB").resize((r, r), Image.LANCZOS) for im in images]
        groups = [[i] for i in range(len(sized))] if self.deterministic else [list(range(len(sized)))]
        out = []
        for g in groups:
            out += self.pipe(prompt=[prompt] * len(g), image=[sized[i] for i in g], generator=generators([seeds[i] for i in g], self.device),
                             **self.call).images
        return [o.resize(im.size, Image.LANCZOS) for o, im in zip(out, images)]
