/// `olab train` flags of a tiny model on the synthetic corpus: trains in about a second in release.
public let tinyModelFlags = ["--width", "32", "--layers", "2", "--heads", "4", "--seq", "32", "--batch", "8",
                            "--synthetic-bytes", "200000", "--eval-windows", "8", "--probe-batch", "2", "--seed", "3"]

/// A four-step run of a one-layer model with a checkpoint every two steps.
public let fourStepRunFlags = ["--width", "32", "--layers", "1", "--heads", "4", "--seq", "16", "--batch", "2", "--steps", "4",
                              "--log-every", "2", "--checkpoint-every", "2", "--eval-windows", "2", "--probe-batch", "1"]
