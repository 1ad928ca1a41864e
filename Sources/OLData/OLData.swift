// Module OLData: filled by its issue.
