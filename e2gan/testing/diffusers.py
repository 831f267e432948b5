"""Tiny random-weight diffusers pipelines built in code (no download), saved to a folder so the
teachers are tested through their real loading path."""

from __future__ import annotations


def tiny_clip_tokenizer(max_len: int = 77):
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in sorted(ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_len)


def tiny_components(in_channels: int) -> dict:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tok = tiny_clip_tokenizer()
    text_encoder = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
                                                num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tok), max_position_embeddings=77)).eval()
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=in_channels, out_channels=4,
                                cross_attention_dim=32, norm_num_groups=32, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2, norm_num_groups=32)
    return dict(vae=vae, text_encoder=text_encoder, tokenizer=tok, unet=unet)


def save_instruct_pix2pix(folder) -> str:
    from diffusers import (
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
    )

    pipe = StableDiffusionInstructPix2PixPipeline(**tiny_components(8), scheduler=EulerAncestralDiscreteScheduler(), safety_checker=None,
                                                  feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(str(folder))
    return str(folder)


def save_pix2pix_zero(folder) -> str:
    from diffusers import (
        DDIMInverseScheduler,
        DDIMScheduler,
        StableDiffusionPix2PixZeroPipeline,
    )

    pipe = StableDiffusionPix2PixZeroPipeline(**tiny_components(4), scheduler=DDIMScheduler(), inverse_scheduler=DDIMInverseScheduler(),
                                              safety_checker=None, feature_extractor=None, caption_generator=None, caption_processor=None,
                                              requires_safety_checker=False)
    pipe.save_pretrained(str(folder))
    return str(folder)


def save_tiny_clip(folder) -> str:
    """A tiny random CLIP (text + vision towers) with its processor, for the CLIP-score code path."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    torch.manual_seed(0)
    tok = tiny_clip_tokenizer()
    cfg = CLIPConfig(
        text_config=dict(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4,
                         num_hidden_layers=2, vocab_size=len(tok), max_position_embeddings=77),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(cfg).eval().save_pretrained(str(folder))
    proc = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}), tokenizer=tok)
    proc.save_pretrained(str(folder))
    return str(folder)
