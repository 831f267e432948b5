"""Core ML: an ``.mlpackage`` (ML program, fp16) for iPhones, iPads and Macs, at a fixed input size, adapter merged and
prompt baked in. coremltools converts on Linux but cannot run a model there (prediction needs macOS): the export is
checked by its spec (input and output names, shapes, types, metadata), not by its pixels; run it on a Mac or a phone."""

from __future__ import annotations

from pathlib import Path

import torch

INSTALL = "pip install 'e2gan[mobile]'  (coremltools)"
NOT_HERE = "Core ML models cannot run on Linux (prediction needs macOS or iOS): this export was checked by its spec, not its pixels"


def _ct():
    import logging

    try:
        logging.getLogger("coremltools").setLevel(logging.ERROR)  # it announces at import that Linux cannot run models
        import coremltools as ct
    except ImportError as exc:
        raise ImportError(f"Core ML export needs coremltools: {INSTALL}") from exc
    return ct


def export_coreml(student, prompt: str, path, size: int = 256, strength: float = 1.0, metadata: dict | None = None) -> Path:
    """Write ``path`` (an ``.mlpackage`` folder): input ``image`` (1, 3, size, size) float in [-1, 1], output ``edited``
    of the same shape, fp16 compute; ``metadata`` goes into the model's user-defined metadata."""
    import os
    import shutil
    import tempfile

    from e2gan.inference import concept_module

    ct = _ct()
    path = Path(path)
    if path.suffix != ".mlpackage":
        raise ValueError(f"--out {path}: a Core ML model is an .mlpackage folder; give a path ending in .mlpackage")
    padded = concept_module(student, prompt, strength).cpu().eval()
    if size % padded.multiple:
        raise ValueError(f"--size {size}: a Core ML model has a fixed input size, and this backbone needs a multiple of {padded.multiple}")
    module = _Fixed(padded).eval()  # no padding arithmetic in the graph (Core ML's converter cannot trace shape math)
    example = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        program = torch.export.export(module, (example,)).run_decompositions({})
    import numpy as np

    model = ct.convert(program, inputs=[ct.TensorType(name="image", shape=example.shape, dtype=np.float32)],
                       outputs=[ct.TensorType(name="edited", dtype=np.float32)],
                       convert_to="mlprogram", compute_precision=ct.precision.FLOAT16, minimum_deployment_target=ct.target.iOS16)
    model.short_description = f"e2gan: {prompt!r} at {size}x{size} (input and output RGB in [-1, 1], NCHW)"
    for k, v in (metadata or {}).items():
        model.user_defined_metadata[k] = str(v)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".e2gan-coreml-", dir=path.parent)) / path.name
    try:
        model.save(str(tmp))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return path


class _Fixed(torch.nn.Module):
    """A concept module at a fixed size that is already a multiple of the backbone's: the generator and the baked prompt."""

    def __init__(self, padded):
        super().__init__()
        self.generator, self.conditioned = padded.generator, padded.conditioned
        if self.conditioned:
            self.register_buffer("embeds", padded.embeds, persistent=False)
            self.register_buffer("mask", padded.mask, persistent=False)

    def forward(self, image):
        return self.generator(image, self.embeds, self.mask) if self.conditioned else self.generator(image)


def check_spec(path, size: int) -> dict:
    """What a Core ML model declares: its input and output names, shapes and types, and its metadata (read from the spec,
    which works on any OS). Raises if they are not the export's."""
    ct = _ct()
    spec = ct.utils.load_spec(str(path))
    desc = spec.description

    def io(feature):
        arr = feature.type.multiArrayType
        return {"name": feature.name, "shape": list(arr.shape), "type": ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(arr.dataType)}

    found = {"inputs": [io(f) for f in desc.input], "outputs": [io(f) for f in desc.output],
             "metadata": dict(desc.metadata.userDefined), "description": desc.metadata.shortDescription,
             "spec_version": spec.specificationVersion}
    want = [1, 3, size, size]
    if [i["name"] for i in found["inputs"]] != ["image"] or found["inputs"][0]["shape"] != want:
        raise ValueError(f"{path}: the input is {found['inputs']}, not image {want}")
    if [o["name"] for o in found["outputs"]] != ["edited"] or found["outputs"][0]["shape"] not in ([], want):
        raise ValueError(f"{path}: the output is {found['outputs']}, not edited {want}")
    return found
