"""The end-to-end demo and the small ONNX models it trains (numpy, exported with onnx.helper)."""
