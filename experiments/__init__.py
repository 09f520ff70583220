"""The robustness study built on the emulator (thesis chapters 4-5): CIFAR-10 data, our checkpoints,
training (standard, QAT, approx fine-tune, FGSM-RS), torchattacks adversarial sets, the evaluation
matrix with its scenario labels, the NSGA-II search of per-layer levels, energy, reports and
provenance; the demos and the campaign's plans."""
