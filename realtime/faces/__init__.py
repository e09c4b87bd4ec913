"""The face stage: the face detector (BlazeFace, ONNX), the face mesh that refines a detection's
landmarks, and the aligned crops the classifier sees."""
