"""From a search to a shipped network: runtimes (Keras, ONNX Runtime, LiteRT), conversion, checked export."""
