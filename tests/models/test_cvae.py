import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

import vaekit


def test_samples_conditioned_on_a_class_are_classified_as_that_class(tmp_path):
    run = vaekit.train(
        data="digits",
        model="cvae",
        encoder=[64],
        latent_dim=4,
        epochs=10,
        batch_size=32,
        out=tmp_path / "cvae",
        progress="quiet",
    )
    x, y = vaekit.api.resolve_eval_data(run, None, "train")
    classifier = LogisticRegression(max_iter=2000).fit(x.numpy(), y.numpy())
    torch.manual_seed(0)
    labels = np.repeat(np.arange(10), 30)
    samples = run.sample(len(labels), labels=labels).reshape(len(labels), -1).numpy()
    accuracy = (classifier.predict(samples) == labels).mean()
    assert accuracy > 0.7, accuracy  # chance is 0.1
