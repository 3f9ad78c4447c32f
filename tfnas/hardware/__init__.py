"""Hardware side of tfnas: TFLite export, LiteRT latency measurement, per-device latency tables."""
