"""e2gan's on-disk formats in one place: every file name, the version stamp, and the readers that check a base's
config and an adapter's record before anything is built from them (no torch here: they are quick to import).

The adapter's two peft files are peft's own names (``peft.utils.CONFIG_NAME`` and
``peft.utils.SAFETENSORS_WEIGHTS_NAME``), written out here so that reading a name imports no torch;
tests/test_student.py checks that they still agree with peft."""

from pathlib import Path

#: e2gan's version, stamped into every config.json and e2gan_adapter.json it writes (``e2gan.__version__``)
VERSION = "0.1.0"

CONFIG = "config.json"  # a base: backbone name + config, text encoder, e2gan_version, meta
WEIGHTS = "model.safetensors"  # a base's weights
ADAPTER_CONFIG = "adapter_config.json"  # peft.utils.CONFIG_NAME
ADAPTER_WEIGHTS = "adapter_model.safetensors"  # peft.utils.SAFETENSORS_WEIGHTS_NAME
ADAPTER_META = "e2gan_adapter.json"  # e2gan's record beside peft's two files: base, fingerprint, training, version
TRAINING_LOG = "training_log.jsonl"
MANIFEST = "manifest.jsonl"  # a data set's records, one JSON line per pair
PROMPTS = "e2gan_prompts.safetensors"  # an adapter's learned prompt embeddings (e2gan.prompts), when it has any
METRICS = "metrics.json"  # what `e2gan eval --out` writes beside a published model
SAMPLES = "samples.png"  # the sample grid a model card shows
CHECKPOINTS = "checkpoints"  # a training run's resumable state, inside its --out
LOCK = ".e2gan.lock"  # the lock a writer holds on a folder


def check_stamp(path, wrote) -> None:
    """Warn when ``path`` (a config or adapter record stamped ``e2gan_version``) was written by a newer major version."""
    import warnings

    def major(version) -> int:
        try:
            return int(str(version).split(".")[0])
        except ValueError:
            return 0

    if wrote and major(wrote) > major(VERSION):
        warnings.warn(f"{path} was written by e2gan {wrote}, a newer major version than this e2gan {VERSION}: "
                      "it may not load correctly; upgrade with `pip install -U e2gan`")


#: what e2gan decodes from a JSON file it is handed: at most this many bytes, nested at most this deep (its own files
#: are a few hundred kilobytes and a few levels deep; a deeper one would exhaust Python's recursion while decoding)
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, brackets inside strings not counted (a scan, no decoding)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_bounded(text, where, fix: str = "restore it from where it came from", max_depth: int = MAX_JSON_DEPTH):
    """``json.loads`` after a depth check: one ``ValueError`` naming ``where`` and ``fix`` for anything that is not
    JSON e2gan can decode safely (too deep, invalid, not UTF-8), never a traceback."""
    import json

    try:
        text = text.decode("utf-8") if isinstance(text, (bytes, bytearray)) else text
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not UTF-8 text, so not JSON; {fix}") from None
    depth = json_depth(text)
    if depth > max_depth:
        raise ValueError(f"{where} nests arrays or objects {depth} levels deep (at most {max_depth}): not a file e2gan writes; {fix}")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{where} is not valid JSON ({str(exc)[:120]}); {fix}") from None


def read_json(path, fix: str = "restore it from where it came from", max_bytes: int = MAX_JSON_BYTES):
    """A JSON file e2gan is handed, bounded in size (checked before reading) and depth (before decoding)."""
    import os
    import stat

    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValueError(f"{path} cannot be read ({exc.strerror or exc}); {fix}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} is not a regular file; {fix}")
    if st.st_size > max_bytes:
        raise ValueError(f"{path} is {st.st_size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB e2gan reads from a JSON file; {fix}")
    return loads_bounded(path.read_bytes(), path, fix)


def _json_object(path, what: str) -> dict:
    obj = read_json(path, f"restore it from where the {what} came from")
    if not isinstance(obj, dict):
        raise ValueError(f"{path} must hold a JSON object (the {what}'s record), not {type(obj).__name__}; restore it from where the "
                         f"{what} came from")
    return obj


def read_config(path) -> dict:
    """A base's ``config.json``, with its version stamp checked: a newer major version warns."""
    cfg = _json_object(path, "model")
    missing = [k for k in ("backbone", "config") if k not in cfg]
    if missing:
        raise ValueError(f"{path} lacks {missing[0]!r}: not an e2gan {CONFIG} (expected backbone, config, text_encoder, e2gan_version)")
    check_stamp(path, cfg.get("e2gan_version"))
    return cfg


def read_adapter_meta(folder) -> dict:
    """``e2gan_adapter.json`` of an adapter folder, with what loading it safely needs checked first (the one place
    adapter records are read: loading, publishing and the model card go through it)."""
    folder = Path(folder)
    meta_path = folder / ADAPTER_META
    meta = _json_object(meta_path, "adapter")
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise FileNotFoundError(f"{folder} has no {ADAPTER_WEIGHTS}; e2gan refuses adapters in any other format "
                                "(peft would fall back to adapter_model.bin, a pickle)")
    if "base" not in meta:
        raise ValueError(f"{meta_path} lacks 'base': which model the adapter was trained on")
    if not meta.get("base_fingerprint"):
        raise ValueError(f"{meta_path} has no base_fingerprint, so e2gan cannot check that {meta['base']!r} is the base it was "
                         "trained on; refusing to load it unchecked (re-save it with e2gan finetune)")
    check_stamp(meta_path, meta.get("e2gan_version"))
    _check_peft_config(folder / ADAPTER_CONFIG)
    return meta


def _check_peft_config(path) -> None:
    """peft's ``adapter_config.json`` as e2gan writes it: a LoRA config naming its targets and rank (peft itself fails on
    anything else with a TypeError deep inside)."""
    cfg = _json_object(path, "adapter")
    if cfg.get("peft_type") != "LORA":
        raise ValueError(f"{path}: peft_type is {cfg.get('peft_type')!r}; e2gan adapters are LoRA (peft_type \"LORA\"): this folder is not "
                         "an e2gan adapter, or its config was changed")
    if not isinstance(cfg.get("r"), int) or isinstance(cfg.get("r"), bool) or cfg["r"] < 1:
        raise ValueError(f"{path}: r is {cfg.get('r')!r}; it must be a positive integer (the LoRA rank)")
    targets = cfg.get("target_modules")
    if not (isinstance(targets, str) or (isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets))):
        raise ValueError(f"{path}: target_modules is {targets!r}; it must name the LoRA layers (a list of module names)")
