"""Models: a pretrained backbone behind one classification head, and the generic block finder."""
