"""The classifier stage's model: the ONNX Runtime backend (providers, sessions), the contract a
classifier's metadata states (input size, normalisation, threshold), and the classifier itself
with its batching inference service."""
