"""GET /v1/openapi.json: a valid OpenAPI 3.1 document that covers every /v1 endpoint and
says what the validators and serializers actually do.

openapi_spec_validator checks the document as a whole; the structural checks below say
what it means for Pixdash. Schemas are checked with a small JSON Schema subset (exactly the keywords
pydantic emits for generator/api/schemas.py), so no extra dependency is needed.
"""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate
from pydantic import ValidationError

from generator import jobs
from generator.api.schemas import ImageEditRequest, ImageGenerationRequest
from tests.generator.conftest import SAFETY_BLOCK

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Not API endpoints: the document itself, and the JSON 404 for unknown /v1 paths.
UNDOCUMENTED = {"v1/openapi.json", "v1/<path:rest>"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def resolve(document: dict, ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        assert part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def walk(node, path="#"):
    """Every (json pointer, dict) in the document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def schema_errors(document: dict, schema: dict, value, at: str = "$") -> list[str]:
    """JSON Schema validation for the keywords these schemas use; [] when valid."""
    if "$ref" in schema:
        return schema_errors(document, resolve(document, schema["$ref"]), value, at)
    errors = []
    for sub in schema.get("allOf", []):
        errors += schema_errors(document, sub, value, at)
    if "anyOf" in schema and all(schema_errors(document, s, value, at) for s in schema["anyOf"]):
        errors.append(f"{at}: matches none of anyOf")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [*errors, f"{at}: {value!r} is not {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: {value!r} != {schema['const']!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{at}: shorter than {schema['minLength']}")
        if len(value) > schema.get("maxLength", float("inf")):
            errors.append(f"{at}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{at}: does not match {schema['pattern']}")
    if _TYPES["number"](value):
        if value < schema.get("minimum", float("-inf")):
            errors.append(f"{at}: below {schema['minimum']}")
        if value > schema.get("maximum", float("inf")):
            errors.append(f"{at}: above {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{at}: missing {k}" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(document, properties[key], item, f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}: unexpected {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(
                    document, schema["additionalProperties"], item, f"{at}.{key}"
                )
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", float("inf")):
            errors.append(f"{at}: more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            errors += schema_errors(document, schema.get("items", {}), item, f"{at}[{index}]")
    return errors


def v1_routes() -> dict[str, str]:
    """Every /v1 route of the root URLconf as OpenAPI writes it, mapped to the Django route."""

    def collect(patterns, prefix=""):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from collect(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                yield route

    return {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route): route
        for route in collect(get_resolver().url_patterns)
        if route.startswith("v1/") and route not in UNDOCUMENTED
    }


# --- A valid OpenAPI 3.1 document ----------------------------------------------------


def test_it_is_public_json_for_openapi_3_1(client, document):
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]
    assert client.post("/v1/openapi.json").status_code == 405


def test_it_passes_openapi_spec_validator(document):
    validate(document)


def test_its_structure_is_valid_openapi(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    for requirement in document["security"]:
        assert set(requirement) <= set(schemes)
    for name in document["components"]["schemas"]:
        assert re.fullmatch(r"[A-Za-z0-9.\-_]+", name), name

    for path, item in document["paths"].items():
        assert path.startswith("/v1/"), path
        assert set(item) <= HTTP_METHODS, path
        templated = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            parameters = operation.get("parameters", [])
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            assert in_path == templated, where
            for parameter in parameters:
                assert parameter["in"] in {"path", "query", "header", "cookie"}, where
                assert "schema" in parameter, where
                if parameter["in"] == "path":
                    assert parameter["required"] is True, where
            assert operation["responses"], where
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d|default", status), where
                assert response["description"], where
                for media in response.get("content", {}).values():
                    assert "schema" in media, where
            if method == "get":
                assert "requestBody" not in operation, where

    refs = [(pointer, node["$ref"]) for pointer, node in walk(document) if "$ref" in node]
    assert refs
    for _pointer, ref in refs:
        resolve(document, ref)  # fails on a dangling reference


# --- Coverage of the URLconf ---------------------------------------------------------


def test_it_documents_every_v1_route_and_no_other(document):
    routes = v1_routes()

    assert routes, "no /v1 routes found: the URL walk is broken"
    missing = set(routes) - set(document["paths"])
    assert not missing, f"Document these endpoints in generator/api/openapi.py: {sorted(missing)}"
    assert set(document["paths"]) <= set(routes), "documented paths that do not exist"


def test_each_route_accepts_exactly_the_documented_methods(client, alice_key, document):
    for path, route in v1_routes().items():
        url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", "probe", route)
        # A method no endpoint takes: the 405 lists the ones it does.
        response = client.options(url, headers=alice_key.headers)
        assert response.status_code == 405, path
        allowed = {m.strip().lower() for m in response["Allow"].split(",")}
        assert allowed == set(document["paths"][path]), path


def test_every_operation_documents_the_error_envelope(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in ("400", "401", "404", "429", "503"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)


# --- Constraints match the validators ------------------------------------------------


def generation_schema(document) -> dict:
    operation = document["paths"]["/v1/images/generations"]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


def test_the_generation_request_documents_the_validators_bounds(document):
    schema = resolve(document, generation_schema(document)["$ref"])
    properties = schema["properties"]

    assert set(schema["required"]) == {"model", "prompt"}
    assert (properties["n"]["minimum"], properties["n"]["maximum"]) == (1, 10)
    assert properties["n"]["default"] == 1
    assert properties["prompt"]["minLength"] == 1
    assert properties["prompt"]["maxLength"] == 32000
    assert set(properties) == set(ImageGenerationRequest.model_fields)


BASE = {"model": "nano-banana", "prompt": "a fox"}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"n": 1},
        {"n": 10},
        {"n": 0},
        {"n": 11},
        {"n": -3},
        {"n": True},
        {"n": None},
        {"prompt": ""},
        {"prompt": "x" * 32000},
        {"prompt": "x" * 32001},
        {"model": ""},
        {"model": "m" * 101},
        {"size": "auto"},
        {"size": "1024x1024"},
        {"size": "16:9"},
        {"size": "big"},
        {"size": "1024x1024x3"},
        {"size": None},
        {"response_format": "url"},
        {"response_format": "b64_json"},
        {"response_format": "gif"},
        {"output_format": "webp"},
        {"output_format": "bmp"},
        {"quality": "hd"},
        {"quality": "ultra"},
        {"background": "transparent"},
        {"background": "green"},
        {"output_compression": 100},
        {"output_compression": 101},
        {"user": "u" * 256},
        {"user": "u" * 257},
        {"model": None},
        {"prompt": 7},
    ],
)
def test_the_generation_schema_and_validator_agree(document, changes):
    body = {**BASE, **changes}
    documented = not schema_errors(document, generation_schema(document), body)
    try:
        ImageGenerationRequest.model_validate(body)
        validated = True
    except ValidationError:
        validated = False

    assert documented == validated, (
        body,
        schema_errors(document, generation_schema(document), body),
    )


def test_the_edit_form_schema_names_its_files_and_fields(document):
    operation = document["paths"]["/v1/images/edits"]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]

    assert set(schema["required"]) == {"image", "model", "prompt"}
    assert schema["properties"]["image"]["items"]["format"] == "binary"
    assert schema["properties"]["mask"]["format"] == "binary"
    fields = resolve(document, schema["allOf"][0]["$ref"])["properties"]
    assert set(fields) == set(ImageEditRequest.model_fields)
    assert (fields["n"]["minimum"], fields["n"]["maximum"]) == (1, 10)


# --- Responses match the documented schemas ------------------------------------------


def response_schema(document, path: str, method: str, status: str) -> dict:
    content = document["paths"][path][method]["responses"][status]["content"]
    return content["application/json"]["schema"]


def test_real_answers_match_their_documented_schemas(
    client, alice_key, document, fake_gemini, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "generator.tasks.run_generation.apply_async", lambda args, **kw: queued.extend(args)
    )
    headers = alice_key.headers

    def post(path, body):
        return client.post(
            path, data=json.dumps(body), content_type="application/json", headers=headers
        )

    answers = [
        ("/v1/images/generations", "post", 200, post("/v1/images/generations", BASE)),
        ("/v1/images/generations", "post", 400, post("/v1/images/generations", {**BASE, "n": 11})),
        ("/v1/async/images/generations", "post", 202, post("/v1/async/images/generations", BASE)),
        ("/v1/models", "get", 200, client.get("/v1/models", headers=headers)),
        ("/v1/models", "get", 401, client.get("/v1/models")),
        (
            "/v1/models/{model_id}",
            "get",
            200,
            client.get("/v1/models/nano-banana", headers=headers),
        ),
        ("/v1/models/{model_id}", "get", 404, client.get("/v1/models/unknown", headers=headers)),
        ("/v1/tasks/{task_id}", "get", 404, client.get("/v1/tasks/task_x", headers=headers)),
    ]
    jobs.run(generation_id=queued.pop())
    fake_gemini.script = lambda request: SAFETY_BLOCK
    failed_id = post("/v1/async/images/generations", BASE).json()["id"]
    jobs.run(generation_id=queued.pop())
    for task_id in (answers[2][3].json()["id"], failed_id):
        task = client.get(f"/v1/tasks/{task_id}", headers=headers)
        answers.append(("/v1/tasks/{task_id}", "get", 200, task))
    assert [a[3].json()["status"] for a in answers[-2:]] == ["completed", "failed"]

    for path, method, status, response in answers:
        assert response.status_code == status, (path, response.content)
        schema = response_schema(document, path, method, str(status))
        errors = schema_errors(document, schema, response.json())
        assert not errors, (path, status, errors)
