// Tests for OLMetrics.
