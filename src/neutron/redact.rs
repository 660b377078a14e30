//! Userinfo (`user:password@`) removed from URLs before they reach a log line or
//! an error: operators paste credentials into `auth_url`, and a redirect's
//! `Location` may carry some. Sans-IO.

use url::Url;

/// `url` without its username and password.
pub fn url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut clean = url.clone();
    // Both fail only for URLs that cannot have userinfo (no host), which
    // have none to strip.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

/// `raw`, which may not parse as a URL, with anything between `://` and the
/// last `@` of the authority replaced by `***@`.
pub fn text(raw: &str) -> String {
    if let Ok(parsed) = Url::parse(raw) {
        return url(&parsed);
    }
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***@{}", &raw[..start], &rest[at + 1..]),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_removed() {
        let u = Url::parse("https://admin:s3cret@keystone:5000/v3?x=1").unwrap();
        assert_eq!(url(&u), "https://keystone:5000/v3?x=1");
        let u = Url::parse("http://h:9696/v2.0/ports").unwrap();
        assert_eq!(url(&u), "http://h:9696/v2.0/ports");
        assert_eq!(text("http://u:pw@k:5000/v3"), "http://k:5000/v3");
        // Unparseable (bad port) but still redacted.
        assert_eq!(text("http://u:pw@k:99999/v3"), "http://***@k:99999/v3");
        assert_eq!(text("http://u:p@w@[::1/x@y"), "http://***@[::1/x@y");
        assert_eq!(text("not a url"), "not a url");
        assert_eq!(text("/relative/a@b"), "/relative/a@b");
    }
}
