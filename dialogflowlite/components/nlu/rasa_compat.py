"""The default NLU pipeline, and Rasa pipelines translated into this one.

:func:`prepare_pipeline` is what :class:`~dialogflowlite.components.nlu.pipeline.NluPipeline`
calls on config.yml's ``pipeline:``. An empty pipeline gets
:func:`default_pipeline`. Otherwise every Rasa component name is translated,
each with a one-line notice (``logger.warning("notice: ...")``), so an
unmodified Rasa config trains:

* names that exist here too (WhitespaceTokenizer, RegexFeaturizer,
  ResponseSelector, ...) stay, with this framework's meaning of their
  settings; Rasa settings they do not know are dropped with a notice;
* Rasa's featurizers (CountVectorsFeaturizer, LexicalSyntacticFeaturizer,
  LanguageModelFeaturizer, SpacyFeaturizer, ...) disappear: their job is done
  inside the classifiers here. A LanguageModelFeaturizer's weights are
  remembered for the classifier after it;
* DIETClassifier (and Rasa's other intent classifiers and trainable entity
  extractors) become one ``JointTransformerClassifier`` when a
  LanguageModelFeaturizer came before, else one ``ScratchTransformerClassifier``;
  settings that mean the same here are kept, the others are dropped with a notice;
* SpacyNLP hands its ``model`` to the SpacyTokenizer / SpacyEntityExtractor
  after it; a pipeline that is not installed is replaced by ``spacy.blank``
  (tokenizer) or skipped (entity extractor), with a notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.errors import Position
from dialogflowlite.io.config_reader import ComponentConfig
from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
JOINT = "JointTransformerClassifier"
SCRATCH = "ScratchTransformerClassifier"
#: Rasa's setting that says where predicted entities are cut at commas
COMMA_SPLITTING = "split_entities_by_comma"

# ---------------------------------------------------------------- Rasa's settings

_TRANSFORMER_KEYS = frozenset(
    {
        "hidden_layers_sizes",
        "share_hidden_layers",
        "transformer_size",
        "number_of_transformer_layers",
        "number_of_attention_heads",
        "use_key_relative_attention",
        "use_value_relative_attention",
        "max_relative_position",
        "unidirectional_encoder",
        "batch_size",
        "batch_strategy",
        "epochs",
        "random_seed",
        "learning_rate",
        "embedding_dimension",
        "dense_dimension",
        "concat_dimension",
        "number_of_negative_examples",
        "similarity_type",
        "loss_type",
        "ranking_length",
        "maximum_positive_similarity",
        "maximum_negative_similarity",
        "use_maximum_negative_similarity",
        "scale_loss",
        "regularization_constant",
        "negative_margin_scale",
        "connection_density",
        "drop_rate",
        "drop_rate_attention",
        "use_sparse_input_dropout",
        "use_dense_input_dropout",
        "evaluate_every_number_of_epochs",
        "evaluate_on_number_of_examples",
        "tensorboard_log_directory",
        "tensorboard_log_level",
        "checkpoint_model",
        "featurizers",
        "constrain_similarities",
        "model_confidence",
        "renormalize_confidence",
        "run_eagerly",
        "weight_sparsity",
        "use_masked_language_model",
        "BILOU_flag",
        "split_entities_by_comma",
    }
)

#: the settings each Rasa component knows (used to drop them with a notice, not fail)
RASA_KEYS: dict[str, frozenset[str]] = {
    "DIETClassifier": _TRANSFORMER_KEYS | {"intent_classification", "entity_recognition"},
    "ResponseSelector": _TRANSFORMER_KEYS | {"retrieval_intent", "use_text_as_label"},
    "EmbeddingIntentClassifier": _TRANSFORMER_KEYS,
    "CRFEntityExtractor": frozenset(
        {
            "BILOU_flag",
            "features",
            "max_iterations",
            "L1_c",
            "L2_c",
            "featurizers",
            "split_entities_by_comma",
        }
    ),
    "SklearnIntentClassifier": frozenset(
        {"C", "kernels", "gamma", "max_cross_validation_folds", "scoring_function", "num_threads"}
    ),
    "LogisticRegressionClassifier": frozenset(
        {"max_iter", "solver", "tol", "random_state", "ranking_length"}
    ),
    "KeywordIntentClassifier": frozenset({"case_sensitive"}),
    "MitieIntentClassifier": frozenset(),
    "MitieEntityExtractor": frozenset(),
    "WhitespaceTokenizer": frozenset(
        {
            "intent_tokenization_flag",
            "intent_split_symbol",
            "token_pattern",
            "prefix_separator_symbol",
            "case_sensitive",
        }
    ),
    "SpacyTokenizer": frozenset(
        {
            "intent_tokenization_flag",
            "intent_split_symbol",
            "token_pattern",
            "prefix_separator_symbol",
        }
    ),
    "JiebaTokenizer": frozenset(
        {
            "dictionary_path",
            "intent_tokenization_flag",
            "intent_split_symbol",
            "token_pattern",
            "prefix_separator_symbol",
        }
    ),
    "RegexFeaturizer": frozenset(
        {
            "case_sensitive",
            "use_lookup_tables",
            "use_regexes",
            "number_additional_patterns",
            "use_word_boundaries",
            "alias",
        }
    ),
    "RegexEntityExtractor": frozenset(
        {"case_sensitive", "use_lookup_tables", "use_regexes", "use_word_boundaries"}
    ),
    "FallbackClassifier": frozenset({"threshold", "ambiguity_threshold"}),
    "EntitySynonymMapper": frozenset(),
    "DucklingEntityExtractor": frozenset({"url", "dimensions", "locale", "timezone", "timeout"}),
    "SpacyEntityExtractor": frozenset({"dimensions"}),
}

#: Rasa settings that mean the same for the component that stands in for a classifier
SAME_MEANING: dict[str, frozenset[str]] = {
    # a from-scratch model trains like DIET: its epochs and sizes carry over
    SCRATCH: frozenset(
        {
            "epochs",
            "learning_rate",
            "number_of_transformer_layers",
            "transformer_size",
            "number_of_attention_heads",
            "embedding_dimension",
            "drop_rate",
            "ranking_length",
            "random_seed",
            "intent_classification",
            "entity_recognition",
            "split_entities_by_comma",
        }
    ),
    # fine-tuning a pretrained encoder needs its own schedule: Rasa's 100+ epochs
    # and DIET's sizes do not apply
    JOINT: frozenset(
        {"ranking_length", "random_seed", "intent_classification", "entity_recognition",
         "split_entities_by_comma"}
    ),
}

#: Rasa's setting name -> the name used here, where they differ (applied when the
#: component here knows the new name and not Rasa's)
RENAMED_KEYS = {
    "random_seed": "seed",
    "number_of_transformer_layers": "num_layers",
    "number_of_attention_heads": "num_heads",
    "transformer_size": "hidden_size",
    "drop_rate": "dropout",
}

#: Rasa settings written differently here: Rasa's name -> (the name here, its value here)
TRANSLATED_VALUES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "BILOU_flag": ("tag_scheme", lambda flag: "bilou" if flag else "bio"),
}

# ---------------------------------------------------------------- Rasa's components

#: featurizers whose job the classifiers here do themselves
ABSORBED = frozenset(
    {
        "CountVectorsFeaturizer",
        "LexicalSyntacticFeaturizer",
        "SpacyFeaturizer",
        "ConveRTFeaturizer",
        "MitieFeaturizer",
        "MitieNLP",
        "LanguageModelFeaturizer",
        "HFTransformersNLP",
    }
)
#: featurizers that name pretrained weights for the classifier after them
PRETRAINED_FEATURIZERS = frozenset({"LanguageModelFeaturizer", "HFTransformersNLP"})
#: tokenizers without an equivalent here: the whitespace tokenizer stands in
TOKENIZERS = frozenset(
    {"MitieTokenizer", "ConveRTTokenizer", "LanguageModelTokenizer", "JiebaTokenizer"}
)
#: Rasa classifiers and trainable extractors -> (classifies intents, extracts entities)
CLASSIFIERS: dict[str, tuple[bool, bool]] = {
    "DIETClassifier": (True, True),
    "EmbeddingIntentClassifier": (True, False),
    "SklearnIntentClassifier": (True, False),
    "MitieIntentClassifier": (True, False),
    "LogisticRegressionClassifier": (True, False),
    "KeywordIntentClassifier": (True, False),
    "CRFEntityExtractor": (False, True),
    "MitieEntityExtractor": (False, True),
}

#: registry aliases for the names whose translation does not depend on the rest of the pipeline
RASA_ALIASES: dict[str, str] = {
    "DIETClassifier": SCRATCH,
    "SpacyNLP": "SpacyTokenizer",
    "MitieTokenizer": "WhitespaceTokenizer",
    "ConveRTTokenizer": "WhitespaceTokenizer",
    "LanguageModelTokenizer": "WhitespaceTokenizer",
    "JiebaTokenizer": "WhitespaceTokenizer",
}


def notice(message: str, position: Position | None = None) -> None:
    """Log one line telling the user how a Rasa setting is handled here."""
    where = f" ({position})" if position else ""
    logger.warning("notice: %s%s", message, where)


def default_pipeline(training_data: TrainingData | None = None) -> list[ComponentConfig]:
    """The pipeline used when config.yml lists none.

    A pretrained encoder (all-MiniLM-L6-v2, installed with the package) for
    intents and entities, synonyms, a response selector on the same encoder
    when the data has retrieval intents (selecting only for messages
    classified as one of them), and a fallback below 0.3 confidence or 0.1
    ambiguity.
    """
    specs = [
        ComponentConfig("WhitespaceTokenizer"),
        ComponentConfig("RegexFeaturizer"),
        ComponentConfig(JOINT, {"model": DEFAULT_MODEL}),
        ComponentConfig("EntitySynonymMapper"),
    ]
    if training_data is not None and training_data.retrieval_intents:
        selector = {"model": DEFAULT_MODEL, "skip_other_intents": True}
        specs.append(ComponentConfig("ResponseSelector", selector))
    specs.append(
        ComponentConfig("FallbackClassifier", {"threshold": 0.3, "ambiguity_threshold": 0.1})
    )
    return specs


@dataclass
class _Classifier:
    """The one classifier that Rasa's classifiers and extractors merge into."""

    spec: ComponentConfig
    intents: bool
    entities: bool
    sources: list[str] = field(default_factory=list)
    #: the entity-extracting component whose ``split_entities_by_comma`` the spec holds
    comma_splitting_from: str | None = None


def _ignored_settings(keys: list[str]) -> str:
    """The words a merge notice adds about a merged component's settings that no
    longer apply (the classifier above keeps its own); empty without any."""
    if not keys:
        return ""
    named = ", ".join(f"`{key}`" for key in keys)
    return f"; its {'setting' if len(keys) == 1 else 'settings'} {named} " + (
        "is ignored" if len(keys) == 1 else "are ignored")


class RasaTranslator:
    """Translates one pipeline; see the module docstring for the rules."""

    def __init__(
        self,
        language: str,
        defaults_of: Callable[[str], dict[str, Any] | None],
        quiet: bool = False,
    ) -> None:
        self.language = language
        self.quiet = quiet
        self.defaults_of = defaults_of
        self.pretrained: str | None = None
        self.spacy_model: str | None = None
        self.classifier: _Classifier | None = None
        self.result: list[ComponentConfig] = []

    def notice(self, message: str, position: Position | None = None) -> None:
        if not self.quiet:
            notice(message, position)

    # ------------------------------------------------------------ settings

    def _settings(
        self,
        rasa_name: str,
        target: str,
        params: dict[str, Any],
        position: Position | None,
        same_meaning: frozenset[str] | None,
    ) -> dict[str, Any]:
        """``params`` for ``target``: Rasa-only settings dropped (with a notice), others kept.

        ``same_meaning`` None keeps every setting the target knows by name.
        """
        known_here = self.defaults_of(target)
        rasa_keys = RASA_KEYS.get(rasa_name, frozenset())
        kept: dict[str, Any] = {}
        for key, value in params.items():
            renamed = RENAMED_KEYS.get(key, key)
            if known_here is not None and key not in known_here and renamed in known_here:
                key_here = renamed
            else:
                key_here = key
            if key not in rasa_keys:
                kept[key_here] = value  # not Rasa's: the component checks it (did-you-mean)
                continue
            translated = TRANSLATED_VALUES.get(key)
            if translated is not None and (known_here is None or translated[0] in known_here):
                kept[translated[0]] = translated[1](value)
                continue
            means_the_same = same_meaning is None or key in same_meaning
            if means_the_same and (known_here is None or key_here in known_here):
                kept[key_here] = value
            elif known_here is not None and key_here in known_here and not means_the_same:
                self.notice(
                    f"{rasa_name}: Rasa's `{key}: {value}` does not mean the same for "
                    f"{target} and is ignored (its own default is used)",
                    position,
                )
            else:
                self.notice(
                    f"{rasa_name}: `{key}` has no equivalent in {target} and is ignored", position
                )
        return kept

    # ------------------------------------------------------------ components

    def _add_classifier(self, item: ComponentConfig) -> None:
        intents, entities = CLASSIFIERS[item.name]
        if item.name == "DIETClassifier":
            intents = bool(item.params.get("intent_classification", True))
            entities = bool(item.params.get("entity_recognition", True))
        params = {
            k: v
            for k, v in item.params.items()
            if k not in ("intent_classification", "entity_recognition")
        }
        if self.classifier is not None:
            self._merge_classifier(self.classifier, item, intents, entities, params)
            return
        if self.pretrained:
            target = JOINT
            why = f"the pretrained encoder {self.pretrained}"
        else:
            target = SCRATCH
            why = "a Transformer trained from scratch (no LanguageModelFeaturizer before it)"
        settings = self._settings(
            item.name, target, params, item.position, SAME_MEANING.get(target)
        )
        if target == JOINT:
            settings["model"] = self.pretrained
        self.notice(f"{item.name} is provided here by {target}, {why}", item.position)
        spec = ComponentConfig(target, settings, item.position)
        splitting_from = item.name if entities and COMMA_SPLITTING in settings else None
        self.classifier = _Classifier(spec, intents, entities, [item.name], splitting_from)
        self.result.append(spec)

    def _merge_classifier(
        self,
        merged: _Classifier,
        item: ComponentConfig,
        intents: bool,
        entities: bool,
        params: dict[str, Any],
    ) -> None:
        """``item`` joins the classifier above: its job is done there, and only its
        ``split_entities_by_comma`` carries over when it extracts entities; the notice
        names its other settings, which are ignored."""
        merged.intents |= intents
        merged.entities |= entities
        merged.sources.append(item.name)
        message = (
            f"{item.name}: its job is done by the {merged.spec.name} above, which "
            f"stands in for {', '.join(merged.sources[:-1])}"
        )
        if entities:
            message += self._carry_comma_splitting(merged, item, params.get(COMMA_SPLITTING))
        message += _ignored_settings(
            [key for key in params if not (entities and key == COMMA_SPLITTING)]
        )
        self.notice(message, item.position)

    def _carry_comma_splitting(self, merged: _Classifier, item: ComponentConfig,
                               value: Any) -> str:
        """The merged classifier takes the ``split_entities_by_comma`` of ``item``, an
        entity extractor (``value``; None where it is not set), unless an entity
        extractor before it set one, which is kept. Returns the words the merge notice
        adds about it."""
        spec = merged.spec
        held = spec.params.get(COMMA_SPLITTING)
        if merged.comma_splitting_from is not None:
            if value is None or value == held:
                return ""
            return (
                f"; its `{COMMA_SPLITTING}: {value}` is ignored, as "
                f"{merged.comma_splitting_from}'s `{COMMA_SPLITTING}: {held}` is used"
            )
        # what the spec holds, if anything, is the setting of a component that
        # extracts no entities: it does not apply to this extractor's entities
        unused = (
            f"{merged.sources[0]}'s `{COMMA_SPLITTING}: {held}` is not used, as it "
            "extracts no entities"
            if COMMA_SPLITTING in spec.params and held != value
            else ""
        )
        if value is None:
            spec.params.pop(COMMA_SPLITTING, None)
            return f"; {unused}" if unused else ""
        carried = self._settings(
            item.name, spec.name, {COMMA_SPLITTING: value}, item.position,
            SAME_MEANING.get(spec.name),
        )
        if COMMA_SPLITTING not in carried:
            return ""  # the target has no such setting: _settings said so
        spec.params[COMMA_SPLITTING] = carried[COMMA_SPLITTING]
        merged.comma_splitting_from = item.name
        return f"; its `{COMMA_SPLITTING}: {value}` is used" + (f" ({unused})" if unused else "")

    def _finish_classifier(self) -> None:
        merged = self.classifier
        if merged is None:
            return
        known = self.defaults_of(merged.spec.name)
        for key, wanted in (
            ("intent_classification", merged.intents),
            ("entity_recognition", merged.entities),
        ):
            if wanted:
                continue
            if known is None or key in known:
                merged.spec.params[key] = False
            else:
                self.notice(
                    f"{merged.spec.name} always does {key.replace('_', ' ')}; Rasa's "
                    f"`{key}: false` is ignored",
                    merged.spec.position,
                )

    def _featurizer(self, item: ComponentConfig) -> None:
        if item.name in PRETRAINED_FEATURIZERS:
            weights = item.params.get("model_weights")
            if weights:
                self.pretrained = str(weights)
            else:
                self.pretrained = DEFAULT_MODEL
                self.notice(
                    f"{item.name} without model_weights: the classifier after it uses "
                    f"{DEFAULT_MODEL}, the pretrained encoder available offline",
                    item.position,
                )
        self.notice(
            f"{item.name} is not needed here: its features are built into the classifiers",
            item.position,
        )

    def _spacy_nlp(self, item: ComponentConfig) -> None:
        from dialogflowlite.components.tokenizers.spacy_loader import spacy_pipeline_installed

        model = item.params.get("model")
        if model and spacy_pipeline_installed(str(model)):
            self.spacy_model = str(model)
            self.notice(
                f"SpacyNLP: the spaCy pipeline {model} is loaded by the spaCy components after it",
                item.position,
            )
        else:
            self.spacy_model = None
            self.notice(
                f"SpacyNLP: the spaCy pipeline {model or '(none)'} is not installed, so "
                f"spaCy components after it use spacy.blank('{self.language}') or are "
                f"skipped (install it with `python -m spacy download {model}`)",
                item.position,
            )

    def _spacy_tokenizer(self, item: ComponentConfig) -> None:
        params = self._settings(item.name, item.name, item.params, item.position, None)
        if "model" not in params and self.spacy_model:
            params["model"] = self.spacy_model
        self.result.append(ComponentConfig(item.name, params, item.position))

    def _spacy_entities(self, item: ComponentConfig) -> None:
        from dialogflowlite.components.nlu.spacy_entities import has_entity_recognizer

        if "model" in item.params:  # written for this framework: the component checks it
            self.result.append(item)
            return
        model = self.spacy_model
        if model and has_entity_recognizer(model):
            params = self._settings(item.name, item.name, item.params, item.position, None)
            self.result.append(
                ComponentConfig(item.name, {**params, "model": model}, item.position)
            )
            return
        self.notice(
            "SpacyEntityExtractor is skipped: no installed spaCy pipeline with an entity "
            "recognizer comes before it, so its entity types are not extracted (install "
            "one, e.g. `python -m spacy download en_core_web_md`, and name it in SpacyNLP)",
            item.position,
        )

    def _tokenizer(self, item: ComponentConfig) -> None:
        why = (
            "splitting Chinese text into characters, as no word segmenter plugin is installed"
            if item.name == "JiebaTokenizer"
            else "the closest tokenizer here"
        )
        self.notice(f"{item.name} is provided here by WhitespaceTokenizer, {why}", item.position)
        params = self._settings(item.name, "WhitespaceTokenizer", item.params, item.position, None)
        self.result.append(ComponentConfig("WhitespaceTokenizer", params, item.position))

    def _kept(self, item: ComponentConfig) -> None:
        # A name that exists here is read with this framework's meaning of its settings;
        # only Rasa settings it does not know are dropped.
        params = self._settings(item.name, item.name, item.params, item.position, None)
        known = self.defaults_of(item.name) or {}
        if (
            item.name == "ResponseSelector"
            and self.pretrained
            and "model" in known
            and "model" not in params
        ):
            # Rasa's selector read the language model's features: here it uses the encoder.
            params["model"] = self.pretrained
            self.notice(
                f"ResponseSelector uses the pretrained encoder {self.pretrained} of the "
                "LanguageModelFeaturizer before it",
                item.position,
            )
        self.result.append(ComponentConfig(item.name, params, item.position))

    # ------------------------------------------------------------ the walk

    def translate(self, items: list[ComponentConfig]) -> list[ComponentConfig]:
        for item in items:
            name = item.name
            registered = self.defaults_of(name) is not None
            if name == "SpacyNLP":
                self._spacy_nlp(item)
            elif name == "SpacyTokenizer":
                self._spacy_tokenizer(item)
            elif name == "SpacyEntityExtractor":
                self._spacy_entities(item)
            elif registered:
                self._kept(item)  # a component of this framework or of an installed plugin
            elif name in ABSORBED:
                self._featurizer(item)
            elif name in CLASSIFIERS:
                self._add_classifier(item)
            elif name in TOKENIZERS:
                self._tokenizer(item)
            else:
                self.result.append(item)  # unknown: the registry names the closest ones
        self._finish_classifier()
        return self.result


def _registry_defaults(name: str) -> dict[str, Any] | None:
    from dialogflowlite.plugins.registry import get_registry

    entry = get_registry().entries.get(name)
    if entry is None:
        return None
    return {**entry.cls.defaults, **dict.fromkeys(entry.cls.compatible_keys)}


def translate_pipeline(
    items: list[ComponentConfig],
    *,
    language: str = "en",
    defaults_of: Callable[[str], dict[str, Any] | None] | None = None,
    quiet: bool = False,
) -> list[ComponentConfig]:
    """Rasa component names and settings -> the components here (see the module docstring).

    ``defaults_of(name)`` gives a registered component's settings (None when
    the name is not registered); by default it asks the component registry.
    ``quiet`` leaves out the notices (for checks that run before training).
    """
    translator = RasaTranslator(language, defaults_of or _registry_defaults, quiet=quiet)
    return translator.translate(list(items))


def prepare_pipeline(
    items: list[ComponentConfig],
    *,
    language: str = "en",
    training_data: TrainingData | None = None,
    defaults_of: Callable[[str], dict[str, Any] | None] | None = None,
    quiet: bool = False,
) -> list[ComponentConfig]:
    """The pipeline to build: the default one when ``items`` is empty, else the translation."""
    if not items:
        pipeline = default_pipeline(training_data)
        if not quiet:
            logger.info("no pipeline configured; using %s",
                        ", ".join(spec.name for spec in pipeline))
        return pipeline
    return translate_pipeline(items, language=language, defaults_of=defaults_of, quiet=quiet)
