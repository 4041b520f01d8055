"""Valid request bodies generated from the app's own OpenAPI schema, so that route-walking tests reach the
handler (and its tenant checks) for every route, including routes added later."""

from __future__ import annotations

from typing import Any

from tests.factories import PASSWORD


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def sample(schema: dict[str, Any], spec: dict[str, Any], name: str = "") -> Any:
    schema = resolve(schema, spec)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if resolve(s, spec).get("type") != "null"]
        return sample(options[0], spec, name)
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        return {prop: sample(sub, spec, prop) for prop, sub in schema.get("properties", {}).items() if prop in required}
    if kind == "array":
        return []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if schema.get("format") == "uri" or name == "url" or name.endswith("_url"):
        return "https://example.com/page"
    if schema.get("format") == "email" or "email" in name:
        return "sample.person@example.com"
    if "password" in name:
        return PASSWORD + " 2"
    return "Sample value"


def request_kwargs(operation: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """httpx keyword arguments for a valid request body: JSON, or a multipart form with sample files."""
    kwargs: dict[str, Any] = {}
    query = {
        p["name"]: sample(p["schema"], spec, p["name"])
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    if query:
        kwargs["params"] = query
    return kwargs | _body(operation, spec)


def _body(operation: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": sample(content["application/json"]["schema"], spec)}
    if "multipart/form-data" in content:
        schema = resolve(content["multipart/form-data"]["schema"], spec)
        files, data = {}, {}
        for name, prop in schema.get("properties", {}).items():
            prop = resolve(prop, spec)
            if prop.get("format") == "binary" or prop.get("contentMediaType") == "application/octet-stream":
                files[name] = ("sample.txt", b"Sample document text.", "text/plain")
            elif name in schema.get("required", []):
                data[name] = sample(prop, spec, name)
        return {"files": files, "data": data}
    return {}
