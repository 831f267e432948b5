"""The file names of e2gan's on-disk formats, in one place (every module that reads or writes them imports these)."""

CONFIG = "config.json"  # a base: backbone name + config, text encoder, e2gan_version, meta
WEIGHTS = "model.safetensors"  # a base's weights
ADAPTER_META = "e2gan_adapter.json"  # beside peft's adapter_config.json + adapter_model.safetensors
TRAINING_LOG = "training_log.jsonl"
