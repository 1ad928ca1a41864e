// Tests for OLOptimizers.
