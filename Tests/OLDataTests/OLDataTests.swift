// Tests for OLData.
