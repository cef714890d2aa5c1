"""Loading a pair of models, hook points across architectures, reading vectors at a hook point."""
