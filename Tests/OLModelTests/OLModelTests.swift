// Tests for OLModel.
