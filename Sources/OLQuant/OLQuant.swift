// Module OLQuant: filled by its issue.
