"""The bootstrap project: the Pulumi state backend and the CI identity, run once per account."""
