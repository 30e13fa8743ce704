"""The OpenAPI 3 document (apispec + its marshmallow plugin, from the schemas in ``schema/``)
and a server-rendered page that lists its operations (no CDN, no JavaScript)."""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, current_app, jsonify, render_template_string

from caseflow import config
from schema.common import DateTimeString, ErrorSchema
from web.api import bp
from web.api.core import ERROR_TEXT, JSON, MULTIPART, OPERATIONS, Operation

API_VERSION = "1.0.0"
DESCRIPTION = """JSON API of Caseflow, the after-sales quality workflow system.

Authenticate with a personal API token: `Authorization: Bearer <token>` (create one in the web
UI or with `caseflow tokens create USER`). The same role rules as the web UI apply: tasks
belong to roles, admins deploy, pin and migrate process versions.

Every error has the body `{"error": {"code", "message", "fields"}}`."""


def _resolver(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def build_spec() -> dict:
    """The OpenAPI document of every registered operation."""
    plugin = MarshmallowPlugin(schema_name_resolver=_resolver)
    spec = APISpec(title="Caseflow API", version=API_VERSION, openapi_version="3.0.3", plugins=[plugin],
                   info={"description": DESCRIPTION})
    if plugin.converter is None:  # APISpec(plugins=[plugin]) has initialised it
        raise RuntimeError("the marshmallow plugin of the OpenAPI spec is not initialised")
    plugin.map_to_openapi_type(DateTimeString, "string", "date-time")
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                    "description": "a personal API token"})
    spec.components.schema("Error", schema=ErrorSchema)
    for status, text in ERROR_TEXT.items():
        spec.components.response(f"E{status}", {"description": text,
                                                "content": {JSON: {"schema": "Error"}}})
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()


def _operation(op: Operation) -> dict:
    params: list[dict] = []
    for name, conv in op.path_params:
        schema = {"type": "integer", "minimum": 1, "maximum": config.MAX_DB_ID} if conv == "int" else {"type": "string"}
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
    if op.query is not None:
        params.append({"in": "query", "schema": op.query})
    errors = set(op.errors) | {422, 500}  # 422: a query parameter the operation does not take, at least
    if op.auth:
        errors |= {401, 429}
    if op.admin:
        errors.add(403)
    if op.path_params:
        errors.add(404)
    if op.body is not None:
        errors |= {400, 413, 415, 422}  # 413: data beyond caseflow.limits
    if op.multipart is not None:
        errors |= {400, 413, 415, 422}
    success: dict[str, Any] = {"description": "OK" if op.status == 200 else "Created"}
    if op.response is not None:
        success["content"] = {JSON: {"schema": op.response}}
    responses: dict[str, Any] = {str(op.status): success}
    for other in op.other_statuses:
        responses[str(other)] = dict(success, description="OK" if other == 200 else "Created")
    for status in sorted(errors):
        responses[str(status)] = ("E" + str(status)) if status in ERROR_TEXT else {
            "description": "Unexpected server error", "content": {JSON: {"schema": "Error"}}}
    out: dict[str, Any] = {
        "operationId": op.endpoint, "summary": op.summary, "tags": op.tags, "responses": responses,
        "security": [{"bearerAuth": []}] if op.auth else [],
    }
    if op.description:
        out["description"] = op.description + ("\n\nNeeds the `admin` role." if op.admin else "")
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": op.body}}}
    if op.multipart is not None:
        out["requestBody"] = {"required": True, "content": {MULTIPART: {"schema": op.multipart}}}
    return out


def openapi_document() -> dict:
    cached = current_app.extensions.get("caseflow_openapi")
    if cached is None:
        cached = current_app.extensions["caseflow_openapi"] = build_spec()
    return cached


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3 document of this API (no authentication needed)."""
    return jsonify(openapi_document())


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Caseflow API {{ doc.info.version }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#1d2430}
h1{font-size:1.6rem} h2{margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem;text-transform:capitalize}
.op{border:1px solid #d6dae3;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
.op summary{cursor:pointer} .m{display:inline-block;min-width:4.2rem;font-weight:600;font-family:monospace}
.GET{color:#0a6} .POST{color:#05b} .DELETE{color:#c22} .PUT,.PATCH{color:#a60}
code,pre{font-family:ui-monospace,monospace;font-size:.9em} pre{background:#f4f6fa;padding:.5rem;overflow:auto}
table{border-collapse:collapse;margin:.3rem 0} td,th{border:1px solid #e0e3ea;padding:.15rem .5rem;text-align:left;vertical-align:top}
.admin{font-size:.75rem;background:#fde8c8;border-radius:3px;padding:0 .3rem;margin-left:.4rem}
.muted{color:#667}
</style></head><body>
<h1>Caseflow API <span class="muted">{{ doc.info.version }}</span></h1>
{% for para in doc.info.description.split("\\n\\n") %}<p>{{ para }}</p>{% endfor %}
<p>Machine-readable: <a href="{{ url_for('api.openapi_json') }}"><code>{{ url_for('api.openapi_json') }}</code></a> (OpenAPI {{ doc.openapi }}).</p>
{% for tag, ops in groups %}
<h2>{{ tag }}</h2>
{% for o in ops %}
<details class="op"><summary><span class="m {{ o.method }}">{{ o.method }}</span> <code>{{ o.path }}</code> — {{ o.op.summary }}
{% if "403" in o.op.responses and o.admin %}<span class="admin">admin</span>{% endif %}</summary>
{% if o.op.description %}<p>{{ o.op.description }}</p>{% endif %}
{% if o.op.parameters %}<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>
{% for p in o.op.parameters %}<tr><td><code>{{ p.name }}</code>{% if p.required %} *{% endif %}</td><td>{{ p["in"] }}</td>
<td>{{ p.schema.type }}{% if p.schema.format %} ({{ p.schema.format }}){% endif %}{% if p.schema.enum %}: {{ p.schema.enum | join(", ") }}{% endif %}</td>
<td>{{ p.description or "" }}</td></tr>{% endfor %}</table>{% endif %}
{% if o.body %}<p>Request body (<code>{{ o.body_type }}</code>):</p><pre>{{ o.body }}</pre>{% endif %}
<p>Responses: {% for code, r in o.op.responses.items() %}<code>{{ code }}</code>{% if not loop.last %}, {% endif %}{% endfor %}</p>
{% if o.response %}<p>Response <code>{{ o.success }}</code>:</p><pre>{{ o.response }}</pre>{% endif %}
</details>
{% endfor %}{% endfor %}
</body></html>"""  # noqa: E501  (an HTML template: wrapping its lines would change the page)


def _describe(schema: dict | None, components: dict, depth: int = 0) -> str:
    """A compact text outline of a JSON schema (for the docs page)."""
    if schema is None:
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return name if depth > 1 else _describe(components.get(name), components, depth)
    if "allOf" in schema or "anyOf" in schema:
        parts = [p for p in schema.get("allOf", []) + schema.get("anyOf", []) if "$ref" in p or "properties" in p]
        if not parts:
            return "object"
        nullable = " | null" if schema.get("nullable") or schema.get("anyOf") else ""
        return _describe(parts[0], components, depth) + nullable
    kind = schema.get("type", "object")
    if kind == "array":
        return f"[{_describe(schema.get('items'), components, depth + 1)}]"
    if kind == "object" and "properties" in schema:
        pad = "  " * (depth + 1)
        required = set(schema.get("required", []))
        lines = [f"{pad}{name}{'' if name in required else '?'}: {_describe(sub, components, depth + 1)}"
                 for name, sub in schema["properties"].items()]
        return "{\n" + "\n".join(lines) + "\n" + "  " * depth + "}"
    text = kind + (f" ({schema['format']})" if schema.get("format") else "")
    if schema.get("enum"):
        text += " " + "|".join(str(e) for e in schema["enum"] if e is not None)
    return text + (" | null" if schema.get("nullable") else "")


@bp.get("/docs")
def docs_page() -> str:
    """The operations of the OpenAPI document as a plain HTML page."""
    doc = openapi_document()
    components = doc.get("components", {}).get("schemas", {})
    groups: dict[str, list[dict]] = {}
    admin_ops = {(o.path, o.method) for o in OPERATIONS if o.admin}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {})
            no_body: tuple[None, dict[str, Any]] = (None, {})
            body_type, body_schema = next(iter(body.items()), no_body)
            success = next(c for c in op["responses"] if c.startswith("2"))
            resp = op["responses"][success]
            resp_schema = resp.get("content", {}).get(JSON, {}).get("schema") if isinstance(resp, dict) else None
            groups.setdefault(op["tags"][0], []).append({
                "method": method.upper(), "path": path, "op": op, "admin": (path, method.upper()) in admin_ops,
                "body_type": body_type, "body": _describe(body_schema.get("schema"), components) if body_type else "",
                "success": success, "response": _describe(resp_schema, components) if resp_schema else "",
            })
    html = render_template_string(_PAGE, doc=doc, groups=list(groups.items()))
    return html
