"""LoRA fine-tuning's defaults, stated once (the CLI's options, the demo, compare and the benchmarks read them).
A module of its own so that reading them imports no torch."""

LORA_STEPS = 300
LORA_LR = 2e-3
LORA_BATCH = 8
