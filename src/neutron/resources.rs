//! Typed Neutron calls over `Client::send`: generic list (following pagination), get,
//! create, update and delete for every `Resource`, tags and extensions. Which calls a
//! Docker operation needs is the driver's business.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::request::{self, Kind, Query};
use super::types::{Body, Resource};
use super::{Answer, Client, NeutronError};

/// At most this many pages are followed for one list; Neutron's pages hold
/// hundreds to thousands of items, so a list this long is a server bug.
pub const MAX_PAGES: usize = 1000;
/// At most this many items are collected for one list, bounding the memory a
/// caller holds (often under a per-key lock) whatever the pages say.
pub const MAX_ITEMS: usize = 100_000;

pub(super) fn decode<T: DeserializeOwned>(answer: &Answer, key: &str) -> Result<T, NeutronError> {
    let value: Value = serde_json::from_str(&answer.body).map_err(|e| NeutronError::Decode {
        url: answer.url.clone(),
        message: e.to_string(),
    })?;
    decode_value(answer, value, key)
}

fn decode_value<T: DeserializeOwned>(
    answer: &Answer,
    mut value: Value,
    key: &str,
) -> Result<T, NeutronError> {
    let decode_err = |message: String| NeutronError::Decode {
        url: answer.url.clone(),
        message,
    };
    let item = value
        .get_mut(key)
        .map(Value::take)
        .ok_or_else(|| decode_err(format!("no `{key}` in the answer")))?;
    serde_json::from_value(item).map_err(|e| decode_err(format!("`{key}`: {e}")))
}

impl Client {
    /// Lists `T`s matching `query`, following `<plural>_links` `rel=next` pages, at
    /// most [`MAX_PAGES`] pages and [`MAX_ITEMS`] items; a next page already
    /// visited (a cycle, or a marker that does not move) is an error rather than a
    /// loop or a silently partial list.
    pub async fn list<T: Resource>(&self, query: &Query) -> Result<Vec<T>, NeutronError> {
        let key = T::KIND.plural();
        let mut path = query.apply(&request::collection_path(T::KIND));
        let mut visited = std::collections::HashSet::new();
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            visited.insert(path.clone());
            let answer = self.send(Method::GET, &path, None).await?;
            let limit = |message: String| NeutronError::Limit {
                method: "GET".into(),
                url: answer.url.clone(),
                message,
            };
            let page: Value =
                serde_json::from_str(&answer.body).map_err(|e| NeutronError::Decode {
                    url: answer.url.clone(),
                    message: e.to_string(),
                })?;
            let next = request::next_page(&path, page.get(format!("{key}_links").as_str()));
            let batch: Vec<T> = decode_value(&answer, page, key)?;
            let empty = batch.is_empty();
            if items.len() + batch.len() > MAX_ITEMS {
                return Err(limit(format!("the list has more than {MAX_ITEMS} {key}")));
            }
            items.extend(batch);
            match next {
                // An empty page ends the list even with a next link.
                Some(next) if !empty => {
                    if visited.contains(&next) {
                        return Err(limit(format!(
                            "pagination loops: the next page {next} was already read"
                        )));
                    }
                    path = next;
                }
                _ => return Ok(items),
            }
        }
        Err(NeutronError::Limit {
            method: "GET".into(),
            url: path,
            message: format!("the list of {key} goes on past {MAX_PAGES} pages"),
        })
    }

    /// Fetches one `T` by id; a missing one is `Api` with status 404.
    pub async fn get<T: Resource>(&self, id: &str) -> Result<T, NeutronError> {
        let answer = self
            .send(Method::GET, &request::item_path(T::KIND, id), None)
            .await?;
        decode(&answer, T::KIND.singular())
    }

    /// Creates a resource from `body`, returning what Neutron made.
    pub async fn create<T: Resource, B: Body>(&self, body: &B) -> Result<T, NeutronError> {
        check_kind(T::KIND, B::KIND)?;
        self.post(T::KIND, T::KIND.singular(), body).await
    }

    /// Creates several resources in one request (Neutron's bulk form,
    /// `{"<plural>": [...]}`), all or none: Neutron rolls the batch back on failure.
    pub async fn create_many<T: Resource, B: Body>(
        &self,
        bodies: &[B],
    ) -> Result<Vec<T>, NeutronError> {
        check_kind(T::KIND, B::KIND)?;
        self.post(T::KIND, T::KIND.plural(), bodies).await
    }

    /// `POST /v2.0/{kind}` with `{key: value}`, decoding `key` from the answer.
    async fn post<V: serde::Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        kind: Kind,
        key: &str,
        value: &V,
    ) -> Result<R, NeutronError> {
        let body = json!({ key: value });
        let answer = self
            .send(Method::POST, &request::collection_path(kind), Some(&body))
            .await?;
        decode(&answer, key)
    }

    /// Updates resource `id` with the fields set in `body`.
    pub async fn update<T: Resource, B: Body>(
        &self,
        id: &str,
        body: &B,
    ) -> Result<T, NeutronError> {
        check_kind(T::KIND, B::KIND)?;
        let key = T::KIND.singular();
        let body = json!({ key: body });
        let answer = self
            .send(Method::PUT, &request::item_path(T::KIND, id), Some(&body))
            .await?;
        decode(&answer, key)
    }

    /// Deletes resource `id`. Already gone (404) is success: deletes are idempotent.
    pub async fn delete(&self, kind: Kind, id: &str) -> Result<(), NeutronError> {
        ok_if_missing(
            self.send(Method::DELETE, &request::item_path(kind, id), None)
                .await,
        )
    }

    /// Adds one tag (`PUT .../tags/{tag}`).
    pub async fn add_tag(&self, kind: Kind, id: &str, tag: &str) -> Result<(), NeutronError> {
        self.send(Method::PUT, &request::tags_path(kind, id, Some(tag)), None)
            .await
            .map(drop)
    }

    /// Replaces all tags (`PUT .../tags` with `{"tags": [...]}`).
    pub async fn set_tags(
        &self,
        kind: Kind,
        id: &str,
        tags: &[String],
    ) -> Result<(), NeutronError> {
        let body = json!({ "tags": tags });
        self.send(
            Method::PUT,
            &request::tags_path(kind, id, None),
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// Removes one tag; a missing tag or resource is success.
    pub async fn remove_tag(&self, kind: Kind, id: &str, tag: &str) -> Result<(), NeutronError> {
        ok_if_missing(
            self.send(
                Method::DELETE,
                &request::tags_path(kind, id, Some(tag)),
                None,
            )
            .await,
        )
    }

    /// The aliases of every loaded extension, in one request (`GET /v2.0/extensions`).
    pub async fn extensions(&self) -> Result<Vec<String>, NeutronError> {
        #[derive(serde::Deserialize)]
        struct Extension {
            alias: String,
        }
        let answer = self
            .send(
                Method::GET,
                &request::collection_path_raw("extensions"),
                None,
            )
            .await?;
        let list: Vec<Extension> = decode(&answer, "extensions")?;
        Ok(list.into_iter().map(|e| e.alias).collect())
    }

    /// Whether the extension `alias` is loaded (`GET /v2.0/extensions/{alias}`; 404 → false).
    pub async fn has_extension(&self, alias: &str) -> Result<bool, NeutronError> {
        match self
            .send(Method::GET, &request::extension_path(alias), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn ok_if_missing(result: Result<Answer, NeutronError>) -> Result<(), NeutronError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

fn check_kind(resource: Kind, body: Kind) -> Result<(), NeutronError> {
    if resource == body {
        Ok(())
    } else {
        Err(NeutronError::Config(format!(
            "a {} body cannot make a {}",
            body.singular(),
            resource.singular()
        )))
    }
}
