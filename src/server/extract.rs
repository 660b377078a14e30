//! Request and reply JSON for the plugin socket.
//!
//! dockerd POSTs JSON with an `Accept` header but no `Content-Type`, so axum's `Json`
//! extractor would refuse every call; we read the body and parse it ourselves. Decoding
//! goes through `serde_path_to_error` so a malformed body is refused with the field
//! named (`IPv4Data[0].Gateway: ...`). An empty body is refused too: a retried request
//! from dockerd can arrive drained (spec §1.5), and it must never read as "all empty".

use crate::Error;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Large enough for any libnetwork body; small enough that a stray client cannot make
/// the plugin buffer without bound.
const BODY_LIMIT: usize = 1 << 20;

/// The content type go-plugins-helpers answers with; dockerd does not check it.
const PLUGIN_MIME: &str = "application/vnd.docker.plugins.v1.2+json";

pub struct PluginJson<T>(pub T);

impl<S, T> FromRequest<S> for PluginJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|err| Error::BadRequest(format!("cannot read body: {err}")))?;
        decode(&bytes).map(PluginJson)
    }
}

/// Decode a request body, naming the offending field on failure.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::BadRequest(
            "empty body, expected a JSON object".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            Error::BadRequest(inner.to_string())
        } else {
            Error::BadRequest(format!("{path}: {inner}"))
        }
    })
}

impl<T: Serialize> IntoResponse for PluginJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut response = body.into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(PLUGIN_MIME));
                response
            }
            // Our reply types are plain structs of strings, numbers and maps with string
            // keys; serde_json cannot fail on them, but if it ever did, say so on the wire.
            Err(err) => Error::Unsupported(format!("cannot encode reply: {err}")).into_response(),
        }
    }
}

pub(super) fn body_limit() -> usize {
    BODY_LIMIT
}
