"""Knowledge distillation loss shared by BATS search (methods.bats) and binary training (training.binary_recipe)."""
from __future__ import annotations

import tensorflow as tf


def distillation_loss(teacher_logits: tf.Tensor, student_logits: tf.Tensor, temperature: float = 1.0) -> tf.Tensor:
    """tau^2 * mean KL(softmax(teacher / tau) || softmax(student / tau)) (Hinton et al.)."""
    t = tf.nn.softmax(teacher_logits / temperature, axis=-1)
    log_t = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
    log_s = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    return temperature ** 2 * tf.reduce_mean(tf.reduce_sum(t * (log_t - log_s), axis=-1))
