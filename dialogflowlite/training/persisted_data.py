"""The NLU training data kept inside a model (``train --persist-nlu-data``, as in Rasa).

The examples, synonyms, regexes and lookup tables the model was trained on are
written into the model file as ``training_data/nlu.yml``, in the YAML the
loader reads, so a model can be traced back to (or retrained from) exactly
its data: ``tar -xf model.tar training_data/nlu.yml``, or
:func:`read_persisted_nlu_data`.
"""

from __future__ import annotations

from pathlib import Path

from dialogflowlite.artifact import ModelWriter, open_model
from dialogflowlite.shared.training_data import TrainingData

#: the model folder that holds the data, and the file in it
NLU_DATA_KEY = "training_data"
NLU_DATA_FILE = "nlu.yml"


def persist_nlu_data(writer: ModelWriter, data: TrainingData) -> None:
    """Write ``data`` into the model being written."""
    from dialogflowlite.io.nlu_writer import nlu_yaml

    writer.storage(NLU_DATA_KEY).write_text(NLU_DATA_FILE, nlu_yaml(data))


def read_persisted_nlu_data(model: str | Path) -> TrainingData | None:
    """The NLU training data kept in ``model`` (a file or unpacked folder), or None when
    it was trained without ``--persist-nlu-data``."""
    from dialogflowlite.evaluation.nlu import load_nlu_data

    with open_model(model) as archive:
        if not archive.storage(NLU_DATA_KEY).exists(NLU_DATA_FILE):
            return None
        return load_nlu_data(archive.storage(NLU_DATA_KEY).path(NLU_DATA_FILE))
