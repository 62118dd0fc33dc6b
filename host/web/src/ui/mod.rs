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

/// The page's files by their path under `/ui/`; the page is titled `title`
/// (`--web.page-title`).
pub fn asset(path: &str, title: &str) -> Response<ResponseBody> {
    let titled;
    let (body, content_type) = match path {
        "" | "index.html" => {
            titled = titled_index(title);
            (titled.as_str(), "text/html; charset=utf-8")
        }
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return text(StatusCode::NOT_FOUND, "404 page not found\n"),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_SECURITY_POLICY, "default-src 'self'")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(full(body.to_owned()))
        .expect("static headers are valid")
}

/// The page with `title` (HTML-escaped) as its title and heading.
fn titled_index(title: &str) -> String {
    let escaped = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    INDEX
        .replacen(
            "<title>wasmfed</title>",
            &format!("<title>{escaped}</title>"),
            1,
        )
        .replacen("<h1>wasmfed</h1>", &format!("<h1>{escaped}</h1>"), 1)
}

/// A redirect to the page, for a browser that asked for `/` or `/ui`.
pub fn redirect(prefix: &str) -> Response<ResponseBody> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, format!("{prefix}/ui/"))
        .body(full(""))
        .expect("a path is a valid location")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_title_is_escaped_into_title_and_heading() {
        let page = super::titled_index("Ops <EU> & \"more\"");
        assert!(page.contains("<title>Ops &lt;EU&gt; &amp; &quot;more&quot;</title>"));
        assert!(page.contains("<h1>Ops &lt;EU&gt; &amp; &quot;more&quot;</h1>"));
        assert!(super::titled_index("wasmfed").contains("<title>wasmfed</title>"));
    }
}
