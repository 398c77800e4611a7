"""mlplab: train and study neural-network classifiers on MNIST-family data."""
__version__ = "0.1.0"
