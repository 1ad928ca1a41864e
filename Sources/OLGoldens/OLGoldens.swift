// Module OLGoldens: filled by its issue.
