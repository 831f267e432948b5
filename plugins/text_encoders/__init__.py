"""Prompt encoders: ``hashed-words`` (offline, no weights) and ``clip`` (transformers, Hub or folder)."""

from e2gan.hookspecs import hookimpl, lazy


@hookimpl
def register_text_encoders(register):
    register("hashed-words", lazy(".hashed_words", "HashedWordsEncoder", __package__), description="fixed per-word vectors; no download (offline default)")
    register("minilm", lazy(".sentence", "SentenceEncoder", __package__),
             description="all-MiniLM-L6-v2 sentence encoder from its PyPI wheel (trained: related prompts are close)")
    register("clip", lazy(".clip", "CLIPTextEncoder", __package__), description="CLIP text tower from a Hub id or local folder (transformers)")
