"""e2gan: distil diffusion image editors into tiny image-to-image GANs, one concept at a time."""

import logging as _logging

from e2gan.files import VERSION as __version__  # noqa: E402,F401  (the one version string)

# torchao (which peft imports when it is installed, as the mobile exports' packages install it) logs a deprecation note
# about torch internals at import, on every command; it says nothing about e2gan's work, so it is kept out of the output
_logging.getLogger("torch.utils._pytree").setLevel(_logging.ERROR)
from e2gan.hookspecs import hookimpl  # noqa: E402
from e2gan.registry import (  # noqa: E402
    create_backbone,
    create_concept_selector,
    create_data_selector,
    create_discriminator,
    create_scorer,
    create_searcher,
    create_selector,
    create_teacher,
    create_text_encoder,
    list_backbones,
    list_concept_selectors,
    list_data_selectors,
    list_discriminators,
    list_scorers,
    list_searchers,
    list_selectors,
    list_teachers,
    list_text_encoders,
)


def __getattr__(name):  # keep `import e2gan` light: torch-heavy pieces load on first use
    if name == "Student":
        from e2gan.student import Student

        return Student
    raise AttributeError(name)


__all__ = [
    "hookimpl", "Student",
    "create_backbone", "list_backbones", "create_discriminator", "list_discriminators",
    "create_teacher", "list_teachers", "create_text_encoder", "list_text_encoders",
    "create_scorer", "list_scorers", "create_searcher", "list_searchers", "create_data_selector", "list_data_selectors",
    "create_selector", "list_selectors",
    "create_concept_selector", "list_concept_selectors",
]
