// Tests for OLQuant.
