"""Datasets (tfds, including the embedded offline ones) and input pipelines."""
from tfnas.data.pipeline import (Augment, ImageData, eval_dataset, load_image_data, representative_images,
                                 steps_for, train_stream, zip_streams)
from tfnas.data.registry import DatasetError, DatasetNotPreparedError, KNOWN_DATASETS, dataset_geometry, get_builder

__all__ = ["Augment", "ImageData", "eval_dataset", "load_image_data", "representative_images", "steps_for",
           "train_stream", "zip_streams", "DatasetError", "DatasetNotPreparedError", "KNOWN_DATASETS",
           "get_builder", "dataset_geometry"]
