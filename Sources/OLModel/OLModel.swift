// Module OLModel: filled by its issue.
