"""PyTorch Lightning modules and callbacks. ``sweep`` imports these; they never import ``sweep``."""
