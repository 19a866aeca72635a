"""Models, styles and plans, loaded from a YAML catalog; which engine runs each model."""
