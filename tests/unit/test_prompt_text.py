"""The reference's prompt text rules (runtime/prompt_text.py): placeholders, appended context
and arguments, prompt files' front matter, and flattening a prompt's messages."""

from __future__ import annotations

from switchyard.runtime import prompt_text as pt


def test_positional_placeholders():
    args = {"_positional": ["a", "b", "c", "d"]}
    assert pt.expand_placeholders("$1 then $2, rest: $ARGUMENTS", args) == "a then b, rest: c d"
    assert pt.expand_placeholders("all: $ARGUMENTS", args) == "all: a b c d"
    assert pt.expand_placeholders("costs $$5 for $1, missing: [$3]", {"_positional": ["x"]}) == \
        "costs $5 for x, missing: []"


def test_config_and_custom_arguments():
    assert pt.apply_config_arguments("Do it.", {}) == "Do it."
    assert pt.apply_config_arguments("Do it.", {"_context": "now", "a": "1"}) == "Do it.\n\nContext: now"
    assert pt.apply_config_arguments("Do it.", {"a": "1", "b": "2"}) == "Do it.\n\nArguments: a: 1, b: 2"
    assert pt.apply_config_arguments("Do $1.", {"_positional": ["x"], "_context": "c"}) == "Do x."
    # Config prompts do not substitute {{name}} (as in the reference); custom prompts do.
    assert pt.apply_config_arguments("Hi {{who}}", {"who": "Ann"}) == "Hi {{who}}\n\nArguments: who: Ann"
    declared = [{"name": "who"}]
    assert pt.apply_custom_arguments("Hi {{who}}", {"who": "Ann", "_context": "c"}, declared) == "Hi Ann"
    assert pt.apply_custom_arguments("Hi", {"who": "Ann"}, declared) == "Hi\n\nArguments: who: Ann"
    assert pt.missing_required([{"name": "a", "required": True}, {"name": "b"}], {"b": "1"}) == ["a"]


def test_normalize_and_map_positional():
    args = pt.normalize_args({"n": 3, "flag": True, "none": None, "_positional": ["x", 2], "_context": "no"},
                             "  ctx  ")
    assert args == {"n": "3", "flag": "true", "_positional": ["x", "2"], "_context": "ctx"}
    mapped = pt.map_positional({"_positional": ["one", "two"], "b": "given"},
                               [{"name": "a"}, {"name": "b"}, {"name": "c"}])
    assert mapped["a"] == "one" and mapped["b"] == "given" and "c" not in mapped


def test_prompt_file_front_matter():
    parsed = pt.parse_prompt_file('---\nid: fix\ndescription: "Fix it"\nargument-hint: [file] [line?]\n'
                                  'priority: 7\nuser-invocable: false\n---\n\n# Fix a bug\nFix $1.\n', "/x/other.md")
    assert parsed["id"] == "fix" and parsed["title"] == "Fix a bug" and parsed["description"] == "Fix it"
    assert parsed["arguments"] == [{"name": "file", "required": True}, {"name": "line", "required": False}]
    assert parsed["priority"] == 7 and parsed["userInvocable"] is False
    assert parsed["content"] == "# Fix a bug\nFix $1."
    bare = pt.parse_prompt_file("Just text.", "/x/just-text.md")
    assert bare["id"] == "just-text" and bare["title"] == "just-text"
    assert bare["description"] == "File prompt: just-text" and "arguments" not in bare


def test_flatten_messages():
    text, uris = pt.flatten_messages([
        {"role": "user", "content": {"type": "text", "text": "one"}},
        {"role": "user", "content": {"type": "resource", "resource": {"uri": "mcp:s:x", "text": "two"}}},
        {"role": "user", "content": {"type": "resource_link", "uri": "https://example.com/a"}},
        {"role": "user", "content": {"type": "resource_link", "uri": "data:text/plain,evil"}},
        {"role": "user", "content": {"type": "image", "data": "aGk=", "mimeType": "image/png"}},
        {"role": "user", "content": {"type": "resource", "resource": {"uri": "mcp:s:x", "blob": "AA=="}}},
    ])
    assert text == "one\ntwo\n@<https://example.com/a>"
    assert uris == ["mcp:s:x", "https://example.com/a"]
    assert pt.slugify("  Code Review! 2_go ") == "code-review-2-go"
    assert pt.slugify("!!!") == ""
