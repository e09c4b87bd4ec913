"""Keras to ONNX export, model metadata writing, quantization, and asset conversion scripts."""
