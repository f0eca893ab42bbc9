"""One small module per backend; each imports its vendor SDK only when first used."""
