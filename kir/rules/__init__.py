"""Per-group tables of op rules (DSL spelling, reference, lowering); kir.registry merges them."""
