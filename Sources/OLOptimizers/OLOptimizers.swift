// Module OLOptimizers: filled by its issue.
