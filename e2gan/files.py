"""The file names of e2gan's on-disk formats, in one place (every module that reads or writes them imports these).

The adapter's two peft files are peft's own names (``peft.utils.CONFIG_NAME`` and
``peft.utils.SAFETENSORS_WEIGHTS_NAME``), written out here so that reading a name imports no torch;
tests/test_student.py checks that they still agree with peft."""

CONFIG = "config.json"  # a base: backbone name + config, text encoder, e2gan_version, meta
WEIGHTS = "model.safetensors"  # a base's weights
ADAPTER_CONFIG = "adapter_config.json"  # peft.utils.CONFIG_NAME
ADAPTER_WEIGHTS = "adapter_model.safetensors"  # peft.utils.SAFETENSORS_WEIGHTS_NAME
ADAPTER_META = "e2gan_adapter.json"  # e2gan's record beside peft's two files: base, fingerprint, training, version
TRAINING_LOG = "training_log.jsonl"
MANIFEST = "manifest.jsonl"  # a data set's records, one JSON line per pair
METRICS = "metrics.json"  # what `e2gan eval --out` writes beside a published model
SAMPLES = "samples.png"  # the sample grid a model card shows
CHECKPOINTS = "checkpoints"  # a training run's resumable state, inside its --out
LOCK = ".e2gan.lock"  # the lock a writer holds on a folder


def check_stamp(path, wrote) -> None:
    """Warn when ``path`` (a config or adapter record stamped ``e2gan_version``) was written by a newer major version."""
    import warnings

    from e2gan import __version__

    def major(version) -> int:
        try:
            return int(str(version).split(".")[0])
        except ValueError:
            return 0

    if wrote and major(wrote) > major(__version__):
        warnings.warn(f"{path} was written by e2gan {wrote}, a newer major version than this e2gan {__version__}: "
                      "it may not load correctly; upgrade with `pip install -U e2gan`")
