"""The matrix on a CI service: the pipelines `export` writes (`gitlab`, `github`), the parts each job must
deliver (`jobs`), and what a run prints when it runs as a CI job (`logs`)."""
