// Tests for OLTraining.
