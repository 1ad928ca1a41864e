// Tests for OLKernels.
