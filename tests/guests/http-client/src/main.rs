//! `http-client`: a WASI 0.2 command that GETs each `http://HOST:PORT/PATH` argument through
//! `wasi:http/outgoing-handler` (run it with `-S http`) and prints, per URL:
//!
//! ```text
//! GET URL -> STATUS, N bytes: "body"       (body with `{:?}` escaping)
//! GET URL -> error: MESSAGE
//! ```
//!
//! It exercises what makes HTTP interesting to record and replay: resources handed from call to
//! call (fields, request, future response, response, body, stream, pollables), waiting on a
//! pollable, and data that only the network knows. Exit status 0, or 2 on a malformed argument.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

fn main() {
    for url in std::env::args().skip(1) {
        match get(&url) {
            Ok((status, body)) => println!(
                "GET {url} -> {status}, {} bytes: {:?}",
                body.len(),
                String::from_utf8_lossy(&body)
            ),
            Err(e) => println!("GET {url} -> error: {e}"),
        }
    }
}

fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        });
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).map_err(|()| "bad method")?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "bad authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "bad path")?;
    let body = request.body().map_err(|()| "no request body")?;
    OutgoingBody::finish(body, None).map_err(|e| format!("finishing the request: {e:?}"))?;

    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    let response = loop {
        if let Some(result) = future.get() {
            break result
                .map_err(|()| "response taken twice".to_string())?
                .map_err(|e| format!("{e:?}"))?;
        }
        future.subscribe().block();
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| "no response body")?;
    let stream = incoming.stream().map_err(|()| "no body stream")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!("reading the body: {}", e.to_debug_string()))
            }
        }
    }
    drop(stream);
    Ok((status, bytes))
}
