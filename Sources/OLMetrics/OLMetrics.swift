// Module OLMetrics: filled by its issue.
