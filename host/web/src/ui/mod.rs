//! The node's own web page (`/ui/`): targets, the relabel debugger, queries, rules, alerts,
//! plugins with their shadow differences, the configuration and the status pages, drawn in
//! the browser from the JSON APIs. The page speaks as the tenant (and with the tokens) the
//! user enters, so it shows exactly what those credentials may read.
//!
//! Plain HTML, CSS and one script, compiled into the binary: nothing to build, nothing to
//! fetch from elsewhere (the content security policy allows this origin only).

use http::{header, Response, StatusCode};

use super::body::{full, ResponseBody};
use super::server::text;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("style.css");

/// The page's files by their path under `/ui/`.
pub fn asset(path: &str) -> Response<ResponseBody> {
    let (body, content_type) = match path {
        "" | "index.html" => (INDEX, "text/html; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return text(StatusCode::NOT_FOUND, "404 page not found\n"),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_SECURITY_POLICY, "default-src 'self'")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(full(body))
        .expect("static headers are valid")
}

/// A redirect to the page, for a browser that asked for `/` or `/ui`.
pub fn redirect(prefix: &str) -> Response<ResponseBody> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, format!("{prefix}/ui/"))
        .body(full(""))
        .expect("a path is a valid location")
}
