"""Prompt encoders: ``hashed-words`` (offline, no weights) and ``clip`` (transformers, Hub or folder)."""

from e2gan.hookspecs import hookimpl


def _clip(**settings):
    from .clip import CLIPTextEncoder

    return CLIPTextEncoder(**settings)


@hookimpl
def register_text_encoders(register):
    from .hashed_words import HashedWordsEncoder

    register("hashed-words", HashedWordsEncoder, description="fixed per-word vectors; no download (offline default)")
    register("clip", _clip, description="CLIP text tower from a Hub id or local folder (transformers)")
