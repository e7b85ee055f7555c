//! The page's CSS, JavaScript and icon, compiled into the binary and served
//! as files (the Content-Security-Policy allows no inline code or styles).

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const ICON: &str = include_str!("../../static/favicon.svg");

/// Assets change only with the binary; an hour of caching is plenty.
const CACHE: &str = "public, max-age=3600";

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        JS,
    )
}

/// `/favicon.ico`, where browsers ask for an icon whether or not a page
/// names one: an SVG (every current browser reads it at that path when the
/// content type says so), so no binary image is kept in the repository.
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, CACHE),
        ],
        ICON,
    )
}
