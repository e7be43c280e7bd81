"""superinfo_lib: the library behind the SuperInfo course (arXiv 2408.10292 on CIFAR-10).

Modules: losses (the objective), models (encoder), data (CIFAR-10, augmentation),
train (trainer + CLI), eval (kNN, linear probe), distributed (torchrun helpers),
toy (synthetic multi-view factors), widgets (the coefficient explorer).
"""

__version__ = "0.1.0"
