"""Step 3 in full: score layer importance, pick the crucial layers, search LoRA ranks, select a
representative subset of the data, then train only LoRA. Each of the three choices is a plugin
(``register_importance_scorers``, ``register_rank_searchers``, ``register_data_selectors``)."""

from e2gan.adapt.features import image_features, pair_features
from e2gan.adapt.pipeline import adapt, finetune, lora_train_config
from e2gan.adapt.search import (
    LAYER_MODES,
    SearchContext,
    budget_of,
    full_finetune_deltas,
    layer_gradients,
    select_layers,
    split_validation,
)

__all__ = ["LAYER_MODES", "SearchContext", "adapt", "budget_of", "finetune", "full_finetune_deltas", "image_features", "layer_gradients",
           "lora_train_config", "pair_features", "select_layers", "split_validation"]
