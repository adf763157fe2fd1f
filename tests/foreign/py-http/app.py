"""proxyrt foreign-toolchain test handler (componentize-py, wasi:http/proxy@0.2.0).

Answers every request with 200 and `py {method} {path} body={body} upstream={upstream}\n`:
{upstream} is `none`, or `{status}:{body}` of a GET of the URL in the `x-upstream` header (made
through wasi:http/outgoing-handler); 502 with the error when that GET fails. Synchronous: the
generated bindings' blocking calls, no asyncio.
"""
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import outgoing_handler
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields, IncomingBody, IncomingRequest, Method_Other, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme_Http, Scheme_Https,
)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        method = request.method()
        method = method.value if isinstance(method, Method_Other) else type(method).__name__[7:].upper()
        path = request.path_with_query() or ""
        with request.headers() as headers:  # a child of the request: dropped before it
            upstream_url = headers.get("x-upstream")
        body = read_body(request.consume()).decode("utf-8", "replace")
        text = f"py {method} {path} body={body} upstream="
        if not upstream_url:
            respond(response_out, 200, text + "none\n")
            return
        try:
            status, upstream_body = get(upstream_url[0].decode())
        except Err as e:
            respond(response_out, 502, text + f"error: {e.value}\n")
            return
        respond(response_out, 200, text + f"{status}:{upstream_body.decode('utf-8', 'replace')}\n")


def read_body(body: IncomingBody) -> bytes:
    """The whole body: blocking reads until the stream is closed."""
    data = bytearray()
    with body.stream() as stream:
        while True:
            try:
                data += stream.blocking_read(65536)
            except Err as e:
                if isinstance(e.value, StreamError_Closed):
                    break
                raise
    IncomingBody.finish(body)  # the trailers' future is dropped right away
    return bytes(data)


def get(url: str) -> tuple[int, bytes]:
    """GET url through wasi:http/outgoing-handler; raises Err(error-code) when it fails."""
    u = urlsplit(url)
    request = OutgoingRequest(Fields())
    request.set_scheme(Scheme_Https() if u.scheme == "https" else Scheme_Http())
    request.set_authority(u.netloc)
    request.set_path_with_query((u.path or "/") + (f"?{u.query}" if u.query else ""))
    with outgoing_handler.handle(request, None) as future:
        with future.subscribe() as ready:
            ready.block()
        result = future.get()  # Ok(Ok(response)) or Ok(Err(error-code)); ready, so not None
        assert isinstance(result, Ok)
        if isinstance(result.value, Err):
            raise result.value
        with result.value.value as response:
            return response.status(), read_body(response.consume())


def respond(response_out: ResponseOutparam, status: int, text: str) -> None:
    response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
    response.set_status_code(status)
    body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    data = text.encode()
    with body.write() as stream:
        for i in range(0, len(data), 4096):  # blocking-write-and-flush takes at most 4096 bytes
            stream.blocking_write_and_flush(data[i:i + 4096])
    OutgoingBody.finish(body, None)
