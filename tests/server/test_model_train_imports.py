"""``POST /model/train`` with a config that reads other files: one clear 400."""

from __future__ import annotations

import asyncio

import pytest
from serving_helpers import CONFIG, DOMAIN, RULES, request, training_body

YAML = {"Content-Type": "application/yaml"}
MULTI = "importers:\n  - name: MultiProjectImporter\n"


@pytest.mark.parametrize(("extra", "parameter", "named"), [
    (MULTI + "imports:\n  - skills/greet\n", "imports", "`imports:`"),
    ("imports: [/srv/bots/faq]\n", "imports", "`imports:`"),
    ("importers:\n  - name: RasaFileImporter\n    training_data_paths: [more]\n",
     "importers", "'training_data_paths'"),
    (MULTI + "    project_directory: skills\n", "importers", "'project_directory'"),
])
def test_a_body_that_reads_other_files_is_one_400(make_app, extra, parameter,
                                                  named) -> None:
    body = training_body(CONFIG, extra, DOMAIN, RULES)
    response = asyncio.run(request(make_app(), "post", "/model/train", content=body,
                                   headers=YAML))
    assert response.status == 400, response.text
    assert response.json["reason"] == "BadRequest"
    assert response.json["details"] == {"parameter": parameter, "in": "body"}
    message = response.json["message"]
    assert named in message and "not available through the training body" in message
    # the one error: not the loader's "does not exist" for each path
    assert "does not exist" not in message


def test_a_body_naming_the_importers_without_paths_is_trained(make_app) -> None:
    body = training_body(CONFIG, MULTI + "  - name: RasaFileImporter\n", DOMAIN, RULES)
    response = asyncio.run(request(
        make_app(), "post", "/model/train?save_to_default_model_directory=false",
        content=body, headers=YAML))
    assert response.status == 200, response.text


def test_a_malformed_importers_key_is_the_loaders_400(make_app) -> None:
    body = training_body(CONFIG, "importers: 5\n", DOMAIN, RULES)
    response = asyncio.run(request(make_app(), "post", "/model/train", content=body,
                                   headers=YAML))
    assert response.status == 400, response.text
    assert "'importers' must be a list" in response.json["message"]
