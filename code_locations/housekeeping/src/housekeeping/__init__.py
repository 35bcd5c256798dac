"""The platform team's own code location: run-history retention, pruning of
archived landing files, and the probes that show runs start, log and stop."""
