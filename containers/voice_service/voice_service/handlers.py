"""Every refusal in the service's error shape: the exception handlers (the service's own errors,
Starlette's and FastAPI's, a client gone, anything unexpected) and the bearer-token middleware.
`voice_service.errors.error_body` picks the shape: `{"error","message"}`, or OpenAI's on /v1/*.
Each refusal is counted in `fala_voice_errors` by code and route."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from voice_service.bodies import validation_message
from voice_service.errors import FalaError, InvalidRequest, error_body
from voice_service.state import voice_state

logger = logging.getLogger("voice_service.app")  # the API's log, whichever module reports


def route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", request.url.path)


def refusal(code: str, message: str, status: int, path: str, headers=None) -> JSONResponse:
    body = error_body(code, message, status, path)
    return JSONResponse(body, status_code=status, headers=headers)


def fail(request: Request, error: FalaError, route: str) -> JSONResponse:
    voice_state(request).metrics.error(error.code, route)
    return refusal(error.code, error.message, error.status, route)


async def fala_error(request: Request, exc: FalaError) -> JSONResponse:
    return fail(request, exc, route_of(request))


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's and FastAPI's own refusals (no such route, wrong method, a body or form
    that cannot be parsed) in the service's error shape."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    if code is None:
        code = "invalid_request" if exc.status_code == 400 else f"http_{exc.status_code}"
    message = str(exc.detail)
    if exc.status_code == 404:
        message = f"No route {request.method} {request.url.path}; see the service's API."
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
        message = f"{request.method} is not allowed on {request.url.path}"
        message += f"; use {allowed}." if allowed else "."
    voice_state(request).metrics.error(code, route_of(request))
    return refusal(code, message, exc.status_code, request.url.path, headers=exc.headers)


async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client hung up before its body arrived: nobody to answer, nothing failed."""
    voice_state(request).metrics.error("client_disconnected", route_of(request))
    return Response(status_code=400)


async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return fail(request, InvalidRequest(validation_message(exc)), route_of(request))


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("Unhandled error on %s", request.url.path)
    voice_state(request).metrics.error("internal_error", route_of(request))
    return refusal("internal_error", "The service failed; see its logs.", 500, request.url.path)


def install_handlers(app: FastAPI) -> None:
    # (the decorator form: Starlette types add_exception_handler for handlers of Exception only)
    app.exception_handler(FalaError)(fala_error)
    app.exception_handler(HTTPException)(http_error)
    app.exception_handler(ClientDisconnect)(client_gone)
    app.exception_handler(RequestValidationError)(bad_request)
    app.exception_handler(Exception)(unexpected)


async def authenticate(request: Request, call_next):
    """HTTP middleware: every route but /health needs `Authorization: Bearer <token>`."""
    if request.url.path == "/health":
        return await call_next(request)
    try:
        voice_state(request).checker.check(request.headers.get("authorization"))
    except FalaError as exc:
        return fail(request, exc, request.url.path)
    return await call_next(request)
