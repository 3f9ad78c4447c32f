"""Training a child network with the DARTS evaluation recipe (and its knobs), resumably.

Recipe (DARTS train.py, CIFAR-10): SGD lr 0.025 momentum 0.9, cosine to 0 per epoch, weight
decay 3e-4 (coupled, as PyTorch), gradient clip 5, cutout 16, drop-path 0.2 rising linearly
over epochs, auxiliary head weighted 0.4, batch 96, 600 epochs. Every part is a TrainConfig
field (and a flag of binaries.train).

``mixed_precision`` (tfnas.training.precision) builds and trains the network under that Keras
policy; logits and losses are float32, mixed_float16 scales the loss, and the saved weights are
float32, so exports are unchanged.

``binary=True`` builds the genotype's binary network (BATS, naive binary DARTS) and trains it
with the two-stage binary recipe of tfnas.training.binary_recipe (binary activations with real
weights, then fully binary); ``teacher``/``kd_weight`` add distillation from a trained model.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.data import Augment, eval_dataset, load_image_data, steps_for, train_stream
from tfnas.errors import ConfigError
from tfnas.training.distribution import strategy_for
from tfnas.training.schedules import EpochCosineDecay
from tfnas.spaces.base import load_genotype
from tfnas.training.checkpointing import EpochCheckpoint, ResumableState
from tfnas.training.arch_summaries import EpochTensorBoard
from tfnas.training.progress import fit_verbosity
from tfnas.training.child_networks import build_child, network_builder
from tfnas.training.model_io import inherited_model_dir, load_inherited_weights, save_trained_model
from tfnas.training.precision import float32_logits, precision_policy, scaled, unscaled
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory
from tfnas.configs.train import SAFE_ON_RESUME, TrainConfig  # noqa: F401  (re-exported: the driver's settings)
from tfnas.graph_optimization import applies_config_graph_optimization

keras = tf.keras


class ClassifierTrainer(keras.Model):
    """train_step of the recipe around a child network with an optional auxiliary output."""

    def __init__(self, network: keras.Model, auxiliary_weight: float, weight_decay: float,
                 grad_clip: float | None, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.has_aux = isinstance(network.output, (list, tuple))
        self.inference = keras.Model(network.input, network.output[0]) if self.has_aux else network
        self.auxiliary_weight, self.weight_decay, self.grad_clip = auxiliary_weight, weight_decay, grad_clip
        self.label_smoothing = label_smoothing
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def _ce(self, y, logits):
        if self.label_smoothing:
            onehot = tf.one_hot(y, tf.shape(logits)[-1])
            return tf.reduce_mean(keras.losses.categorical_crossentropy(
                onehot, logits, from_logits=True, label_smoothing=self.label_smoothing))
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))

    def call(self, x, training=False):
        return self.inference(x, training=training)

    def extra_loss(self, x, logits):
        """A term added to the training loss (distillation); none by default."""
        return 0.0

    def train_step(self, data):
        x, y = data
        variables = self.network.trainable_variables
        with tf.GradientTape() as tape:
            out = self.network(x, training=True)
            logits = float32_logits(out[0] if self.has_aux else out)
            loss = self._ce(y, logits)
            total = loss + self.auxiliary_weight * self._ce(y, float32_logits(out[1])) if self.has_aux else loss
            total = total + self.extra_loss(x, logits)
            scaled_total = scaled(self.optimizer, total)
        grads = unscaled(self.optimizer, tape.gradient(scaled_total, variables))
        if self.grad_clip:
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
        if self.weight_decay:
            grads = [g + self.weight_decay * v for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        logits = float32_logits(self.inference(x, training=False))
        self.loss_tracker.update_state(self._ce(y, logits))
        self.accuracy_tracker.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}


class DistillingTrainer(ClassifierTrainer):
    """ClassifierTrainer plus kd_weight * tau^2 * KL(teacher || student) on the main logits."""

    def __init__(self, network, teacher: keras.Model, kd_weight: float, kd_temperature: float, *args, **kwargs):
        super().__init__(network, *args, **kwargs)
        teacher.trainable = False
        self.teacher, self.kd_weight, self.kd_temperature = teacher, kd_weight, kd_temperature

    def extra_loss(self, x, logits):
        from tfnas.training.binary_recipe import distillation_term

        return distillation_term(self.teacher, x, logits, self.kd_weight, self.kd_temperature)


class DropPathSchedule(keras.callbacks.Callback):
    """DARTS' schedule: drop-path probability = drop_path * epoch / epochs at the start of each epoch."""

    def __init__(self, rate: tf.Variable, drop_path: float, epochs: int):
        super().__init__()
        self.rate, self.drop_path, self.epochs = rate, drop_path, epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.rate.assign(self.drop_path * epoch / self.epochs)


@applies_config_graph_optimization
def train_genotype(config: TrainConfig) -> dict[str, Any]:
    """Train (or resume training) the network of config.genotype; save it and a train_summary.json."""
    config.validate()
    genotype = load_genotype(config.genotype)
    inherit_dir = inherited_model_dir(genotype, config.inherit_from) if config.inherit_from else None
    builder = network_builder(genotype.SPACE, config.binary)
    if not builder.sizes and (config.layers or config.init_channels):
        raise ConfigError(f"a {genotype.SPACE} genotype fixes every layer and width; drop --layers/--init_channels")
    builder.check_depth(genotype, config.layers)  # before any data is loaded
    image_size = config.image_size or (builder.input_size(genotype) if builder.input_size else None)
    run_dir = RunDirectory(config.output_dir, fresh=config.fresh)
    run_dir.check_config(dataclasses.asdict(config), resumable_keys=("epochs",), safe_keys=SAFE_ON_RESUME)
    tf.keras.utils.set_random_seed(config.seed)
    data = load_image_data(config.dataset, config.data_dir, image_size)
    steps = steps_for(data.num_train, config.batch_size, config.steps_per_epoch)
    auxiliary = config.auxiliary and builder.auxiliary
    strategy = strategy_for(config.distribution)
    with strategy.scope(), precision_policy(config.mixed_precision):
        drop_rate = tf.Variable(0.0, trainable=False, name="drop_path_rate")
        generator = tf.random.Generator.from_seed(config.seed)
        options = dict(layers=config.layers, init_channels=config.init_channels, auxiliary=auxiliary)
        if builder.drop_path:
            options.update(drop_path_rate=drop_rate if config.drop_path > 0 else None, generator=generator,
                           stem=config.stem)
        binary_callbacks, schedule = [], None
        if config.binary:
            from tfnas.training import binary_recipe

            binarization = binary_recipe.training_binarization()
            stage1 = binary_recipe.stage1_epochs(config.epochs, config.binary_stage1_epochs)
            options.update(binary=True, binarization=binarization, fast_grouped_conv=True, **config.network_options)
            binary_callbacks = [binary_recipe.BinaryStageSchedule(binarization.weights, stage1)]
            schedule = binary_recipe.StagedCosineDecay(config.learning_rate, config.min_learning_rate, config.epochs,
                                                       stage1, steps)
        network = build_child(genotype, data.num_classes, data.image_shape, **options)
        if inherit_dir:  # weight inheritance; a resumed run's checkpoint overrides it below
            load_inherited_weights(network, inherit_dir)
        head = (config.auxiliary_weight, config.weight_decay, config.grad_clip or None, config.label_smoothing)
        if config.kd_weight > 0:
            from tfnas.training.model_io import load_trained_model

            trainer = DistillingTrainer(network, load_trained_model(config.teacher), config.kd_weight,
                                        config.kd_temperature, *head)
        else:
            trainer = ClassifierTrainer(network, *head)
        trainer.drop_rate, trainer.generator = drop_rate, generator  # tracked: restored on resume
        schedule = schedule or EpochCosineDecay(config.learning_rate, config.min_learning_rate, config.epochs, steps,
                                                config.warmup_epochs)
        optimizer = (keras.optimizers.Adam(schedule) if config.optimizer == "adam"
                     else keras.optimizers.SGD(schedule, momentum=config.momentum))
        trainer.compile(optimizer=optimizer)
        trainer.optimizer.build(network.trainable_variables)
        state = ResumableState(trainer, run_dir)
    start_epoch = state.restore_latest()
    for cb in binary_callbacks:  # the stage of the epoch resumed at (or of the last one, when done)
        cb.on_epoch_begin(min(start_epoch, config.epochs - 1))
    augment = Augment.standard(data, cutout=config.cutout_pixels(data.image_shape[0]))
    train = train_stream(data, None, config.batch_size, config.seed, augment, start_epoch, steps)
    test = eval_dataset(data, "test", batch_size=max(config.batch_size, 128))
    ckpt_cb = EpochCheckpoint(state, run_dir)
    callbacks = [*binary_callbacks, DropPathSchedule(drop_rate, config.drop_path, config.epochs), ckpt_cb,
                 EpochTensorBoard(run_dir.tensorboard, write_graph=False, update_freq="epoch")]
    started = time.time()
    if start_epoch < config.epochs:
        keras_verbose, progress = fit_verbosity(config.verbose, "train", config.epochs)
        trainer.fit(train, epochs=config.epochs, initial_epoch=start_epoch, steps_per_epoch=steps,
                    validation_data=test, callbacks=callbacks + progress, verbose=keras_verbose)
    ckpt_cb.raise_if_nonfinite("Lower --learning_rate or raise --grad_clip and re-run; training resumes from that epoch.")
    results = trainer.evaluate(test, verbose=0, return_dict=True)
    model_config = {
        "space": genotype.SPACE, "genotype": genotype.to_json(), "num_classes": data.num_classes,
        "input_shape": list(data.image_shape), "layers": config.layers, "init_channels": config.init_channels,
        "stem": config.stem, "dataset": config.dataset, "data_dir": config.data_dir, "image_size": image_size,
        "mean": np.asarray(data.mean).tolist(), "std": np.asarray(data.std).tolist(),
    }
    if config.binary:
        model_config["builder_options"] = {"binary": True, **config.network_options}
    model_dir = save_trained_model(trainer.inference, run_dir.file("model"), model_config)
    history = run_dir.history()
    summary = {
        "genotype": genotype.to_json(), "dataset": config.dataset, "seed": config.seed,
        "test_accuracy": float(results["accuracy"]), "test_loss": float(results["loss"]),
        "params": int(sum(int(np.prod(v.shape)) for v in trainer.inference.trainable_variables)),
        "wall_time_s": history[-1]["wall_time_s"] if history else round(time.time() - started, 2),
        "epochs": history, "model_dir": model_dir, "config": dataclasses.asdict(config),
        "tensorboard": run_dir.tensorboard,
    }
    write_json(run_dir.file("train_summary.json"), summary)
    return summary
