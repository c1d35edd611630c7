"""benchmarks/swap_mentions.py: slot values swapped within their slot, the words around kept."""

from __future__ import annotations

import random

from benchmark_scripts import load_benchmark

swap_mentions = load_benchmark("swap_mentions")


def test_swapped_values_keep_their_slot_and_the_words_around_them() -> None:
    sentence = (["play", "westbam", "on", "google", "music"],
                ["O", "B-artist", "O", "B-service", "I-service"], "PlayMusic")
    values = {"artist": [("neil", "finn"), ("westbam",)], "service": [("google", "music")]}
    seen = set()
    for seed in range(20):
        words, tags, intent = swap_mentions.swapped(sentence, values, random.Random(seed))
        assert intent == "PlayMusic"
        assert words[0] == "play" and words[-3:] == ["on", "google", "music"]
        assert len(words) == len(tags)
        artist = [w for w, t in zip(words, tags, strict=True) if t.endswith("-artist")]
        assert tuple(artist) in values["artist"]
        assert tags[1] == "B-artist"
        seen.add(tuple(artist))
    assert seen == set(values["artist"])
    assert swap_mentions.swapped((["hi"], ["O"], "greet"), values, random.Random(0)) is None
