"""validation_issues: pydantic's errors as field paths and messages people can act on."""

from __future__ import annotations

from typing import Annotated, Literal, Union

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchyard.errors import field_path, validation_issues


class Text(BaseModel):
    type: Literal["text"]
    text: str


class Image(BaseModel):
    type: Literal["image"]
    image: str


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Union[Annotated[str, Field(min_length=1)],
                   list[Annotated[Union[Text, Image], Field(discriminator="type")]]]
    token: str | None = None


def issues(data: object) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(data)
    return validation_issues(caught.value.errors())


def test_paths_name_the_request_fields_not_the_validators_branches():
    assert issues({"content": [{"type": "text"}]}) == [{"path": "content[0].text", "message": "field required"}]
    assert issues({"content": [{"type": "image", "image": 5}]}) == [
        {"path": "content[0].image", "message": "Input should be a valid string"}]
    assert field_path(("body", "content", "constrained-str")) == "content"
    assert field_path(("body", "content", "list[tagged-union[Text,Image]]", 2, "image", "image")) == "content[2].image"


def test_union_complaints_at_one_field_are_joined_and_extra_fields_named():
    (only,) = issues({"content": 5})
    assert only["path"] == "content"
    assert "valid string" in only["message"] and "valid list" in only["message"]
    assert {"path": "surprise", "message": "unknown field"} in issues({"content": "x", "surprise": 1})


def test_no_input_value_and_no_pydantic_url_leaks():
    text = repr(issues({"content": [{"type": "video", "secret": "sk-live-123"}], "token": 7}))
    for leak in ("sk-live-123", "errors.pydantic.dev", "tagged-union", "input"):
        assert leak not in text
