// Tests for OLGoldens.
