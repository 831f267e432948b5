"""Prompt encoders: ``hashed-words`` (offline, no weights) and ``clip`` (transformers, Hub or folder)."""

from e2gan.hookspecs import hookimpl, lazy


@hookimpl
def register_text_encoders(register):
    register("hashed-words", lazy(".hashed_words", "HashedWordsEncoder", __package__), description="fixed per-word vectors; no download (offline default)")
    register("clip", lazy(".clip", "CLIPTextEncoder", __package__), description="CLIP text tower from a Hub id or local folder (transformers)")
