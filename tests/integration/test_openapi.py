"""Each function's Powertools resolver documents exactly the routes the deployment gives it."""

from __future__ import annotations

from lambdaops_tools.deployment import DEPLOYMENT

from .conftest import Api


def test_openapi_documents_each_functions_declared_routes(api: Api) -> None:
    served = {route.function for route in DEPLOYMENT.routes}
    for name, function in api.functions.items():
        if name not in served:
            continue  # invoked by a state machine, not by the API
        schema = function.module().app.get_openapi_schema()
        documented = {
            (method.upper(), path.replace("<", "{").replace(">", "}"))
            for path, item in schema.paths.items()
            for method in ("get", "post", "put", "patch", "delete")
            if getattr(item, method) is not None
        }
        declared = {(r.method, r.path) for r in DEPLOYMENT.routes if r.function == name}
        assert documented == declared, name


def test_openapi_request_bodies_come_from_the_pydantic_schemas(api: Api) -> None:
    schema = api.functions["registry"].module().app.get_openapi_json_schema()
    assert "RegisterVersionRequest" in schema
    assert "CreateModelRequest" in schema
