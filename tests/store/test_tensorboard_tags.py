"""stored.tensorboard: where each value of a run goes in TensorBoard (Keras' callback layout), decided in one place."""
import math

from mlplab.stored.tensorboard import epoch_scalars, tag_of, weight_tag


def test_the_splits_of_a_metric_share_a_tag_in_keras_subfolders():
    assert tag_of("loss") == ("train", "epoch_loss")                  # the running value, as fit reports it
    assert tag_of("val_loss") == ("validation", "epoch_loss")
    assert tag_of("val_accuracy") == ("validation", "epoch_accuracy")
    assert tag_of("test_accuracy") == ("test", "epoch_accuracy")
    assert tag_of("train_loss") == ("train_eval", "epoch_loss")       # inference mode on the training rows
    assert tag_of("learning_rate") == ("train", "epoch_learning_rate")
    assert tag_of("epoch") is None and tag_of("seconds") is None


def test_epoch_scalars_take_the_history_and_that_epochs_statistics():
    stats = {"weights": ["dense/kernel", "output/kernel"], "epoch": [0, 1, 2],
             "weight_norm": [[1.0, 2.0], [1.5, 2.5], [1.7, None]], "grad_norm": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}
    got = list(epoch_scalars({"loss": 0.5, "val_loss": math.nan, "val_accuracy": 0.9, "seconds": 1.0}, stats, 2))
    assert got == [("train", "epoch_loss", 0.5), ("validation", "epoch_accuracy", 0.9),
                   ("train", "weight_norm/dense/kernel", 1.7),
                   ("train", "grad_norm/dense/kernel", 0.5), ("train", "grad_norm/output/kernel", 0.6)]
    assert list(epoch_scalars({}, stats, 7)) == []                     # an epoch with no statistics


def test_weight_histograms_go_under_train():
    assert weight_tag("sequential/dense_1/kernel:0") == ("train", "weights/sequential/dense_1/kernel_0")
