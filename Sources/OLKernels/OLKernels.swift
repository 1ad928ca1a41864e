// Module OLKernels: filled by its issue.
