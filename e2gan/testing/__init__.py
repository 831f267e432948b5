"""The conformance kit: what every part of a kind must do, as functions a plugin author calls.

A third-party package tests its teacher in three lines::

    from e2gan.testing import check_teacher

    def test_my_teacher():
        check_teacher(MyTeacher)

Each ``check_*`` takes a factory (the same callable you pass to ``register``), builds what it needs
(tiny images, a tiny random student) in code, and raises ``AssertionError`` naming the broken
promise. e2gan's own tests run the kit over every registered name of every kind
(``tests/test_conformance.py``). Throwaway-plugin fixtures: ``pytest_plugins = ["e2gan.testing.fixtures"]``.
"""

from __future__ import annotations

from e2gan.testing.checks import (
    check_backbone,
    check_concept_selector,
    check_data_selector,
    check_discriminator,
    check_scorer,
    check_searcher,
    check_selector,
    check_teacher,
    check_text_encoder,
)
from e2gan.testing.tiny import tiny_images, tiny_pairs, tiny_student

#: hook kind -> its check (a guard test fails when a kind has none)
CHECKS = {
    "backbone": check_backbone,
    "discriminator": check_discriminator,
    "teacher": check_teacher,
    "text_encoder": check_text_encoder,
    "scorer": check_scorer,
    "searcher": check_searcher,
    "data_selector": check_data_selector,
    "concept_selector": check_concept_selector,
}

__all__ = ["CHECKS", "check_backbone", "check_concept_selector", "check_discriminator", "check_scorer", "check_searcher",
           "check_data_selector", "check_selector", "check_teacher", "check_text_encoder", "tiny_images", "tiny_pairs", "tiny_student"]
