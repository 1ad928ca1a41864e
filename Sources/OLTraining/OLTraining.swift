// Module OLTraining: filled by its issue.
