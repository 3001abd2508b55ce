"""The spectral lens: eigen-spectra of residual-stream activations and of per-sample
gradients as diagnostics of a model and of its training (docs/spectra.md).

`estimate` holds the estimators (numpy), `probe` what a model must offer and the
two measurements made through it (torch.func), `analysis` a task's samples and
the models to spectra, `report` the files, `cli` the `harness analyze spectra` command."""
