// CLIP engine: checkpoints, tokenizer, preprocessing, towers.
