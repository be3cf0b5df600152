//! Redis URLs: `redis://[user[:password]@]host[:port][/db][?options]`, and `rediss://` for
//! TLS — the form redis-py, node-redis and ioredis accept, so one URL can serve the Python
//! workers and the JavaScript callers.
//!
//! - user and password are percent-decoded (`%40` for `@`, `%3A` for `:`, `%23` for `#`);
//!   a password alone is `redis://:password@host`; a user without a password is refused,
//!   since Redis cannot authenticate it.
//! - an IPv6 host goes in brackets (`redis://[::1]:6380`); the host handed to the socket
//!   has none.
//! - defaults: port 6379, database 0, RESP2.
//! - options: `db` (when the path names none), `protocol` (`2` or `3`: with `3` the client
//!   says `HELLO 3` and falls back to RESP2 on servers that do not know it), `name`
//!   (`CLIENT SETNAME`), `connectTimeout` (milliseconds). Any other option is an error, so a
//!   misspelt one is not silently ignored.

use super::error::RespError;

/// The default Redis port.
pub const DEFAULT_PORT: u16 = 6379;

/// Where and how to connect, as a Redis URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to speak TLS (`rediss://`).
    pub tls: bool,
    /// ACL user name (Redis 6+); `None` authenticates as the default user.
    pub username: Option<String>,
    /// Password; `None` sends no `AUTH`.
    pub password: Option<String>,
    /// Database index, selected on connect when not 0.
    pub db: u32,
    /// RESP version to ask for: 2, or 3 (with a fallback to 2).
    pub protocol: u8,
    /// Connection name for `CLIENT LIST` (`CLIENT SETNAME`).
    pub client_name: Option<String>,
    /// How long the socket and the handshake may take, in milliseconds.
    pub connect_timeout_ms: Option<u64>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            host: "localhost".into(),
            port: DEFAULT_PORT,
            tls: false,
            username: None,
            password: None,
            db: 0,
            protocol: 2,
            client_name: None,
            connect_timeout_ms: None,
        }
    }
}

impl ConnectOptions {
    /// Parses a Redis URL.
    pub fn from_url(url: &str) -> Result<Self, RespError> {
        let bad = |why: String| RespError::Config(format!("{why} in Redis URL {}", redact(url)));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (expected redis:// or rediss://)".into()))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "redis" => false,
            "rediss" => true,
            other => {
                return Err(bad(format!(
                    "unsupported scheme {other:?} (expected redis:// or rediss://)"
                )))
            }
        };
        if rest.contains('#') {
            return Err(bad("a '#' (percent-encode it as %23 in a password)".into()));
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (before_query, None),
        };
        let mut options = ConnectOptions {
            tls,
            ..ConnectOptions::default()
        };

        let host_port = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => {
                let (user, password) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                let user = percent_decode(user).map_err(&bad)?;
                let password = password.map(percent_decode).transpose().map_err(&bad)?;
                match password {
                    None if !user.is_empty() => {
                        return Err(bad(format!(
                            "user {user:?} without a password (write redis://:password@host for \
                             a password alone)"
                        )))
                    }
                    None => {}
                    Some(p) => {
                        options.username = Some(user).filter(|u| !u.is_empty());
                        options.password = Some(p);
                    }
                }
                host_port
            }
            None => authority,
        };

        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 host without its closing ']'".into()))?;
            if host.is_empty()
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return Err(bad(format!("an invalid IPv6 address {host:?}")));
            }
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad(format!("{after:?} after the IPv6 host")))?,
                ),
            };
            (host, port)
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host".into()));
        }
        if host
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'%')
            || host.contains(':') && !host_port.starts_with('[')
        {
            return Err(bad(format!("an invalid host {host:?}")));
        }
        options.host = host.to_owned();
        if let Some(port) = port.filter(|p| !p.is_empty()) {
            options.port = digits(port)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p != 0)
                .ok_or_else(|| bad(format!("an invalid port {port:?}")))?;
        }

        let mut db_in_path = false;
        if let Some(db) = path.filter(|p| !p.is_empty()) {
            options.db = parse_db(db).map_err(&bad)?;
            db_in_path = true;
        }

        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).map_err(&bad)?;
            match key {
                "db" if db_in_path => {
                    return Err(bad("a database both in the path and in ?db=".into()))
                }
                "db" => options.db = parse_db(&value).map_err(&bad)?,
                "protocol" => {
                    options.protocol = match value.as_str() {
                        "2" => 2,
                        "3" => 3,
                        _ => return Err(bad(format!("protocol={value:?} (expected 2 or 3)"))),
                    }
                }
                "name" => options.client_name = Some(value).filter(|n| !n.is_empty()),
                "connectTimeout" => {
                    options.connect_timeout_ms = Some(digits(&value).ok_or_else(|| {
                        bad(format!("connectTimeout={value:?} (expected milliseconds)"))
                    })?)
                }
                _ => {
                    return Err(bad(format!(
                        "the unknown option {key:?} (known: db, protocol, name, connectTimeout)"
                    )))
                }
            }
        }
        if let Some(name) = &options.client_name {
            // Redis refuses names with spaces or newlines; say so before connecting.
            if name.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(bad(format!(
                    "name={name:?}: a connection name has no spaces"
                )));
            }
        }
        Ok(options)
    }

    /// The name to send in TLS's SNI: the host, unless it is an IP address (SNI carries
    /// names only).
    pub fn servername(&self) -> Option<&str> {
        // IPv6 has colons; a name never ends in a digit-only label, an IPv4 address does.
        let last_label = self.host.rsplit('.').next().unwrap_or_default();
        let is_ip = self.host.contains(':') || digits(last_label).is_some();
        (self.tls && !is_ip).then_some(self.host.as_str())
    }
}

fn parse_db(text: &str) -> Result<u32, String> {
    digits(text)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("an invalid database {text:?} (expected a number)"))
}

/// A decimal number of ASCII digits only (no sign, no space), within `u64`.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let d = char::from(b).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Percent-decodes a URL component into UTF-8 text.
fn percent_decode(text: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = |d: Option<u8>| d.and_then(|d| char::from(d).to_digit(16));
            match (hex(bytes.next()), hex(bytes.next())) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => return Err("a '%' not followed by two hex digits".into()),
            }
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoded bytes that are not UTF-8".into())
}

/// The URL with its password replaced, for error messages (which end up in logs).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(without a scheme)".into();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> ConnectOptions {
        ConnectOptions::from_url(url).unwrap()
    }

    fn error(url: &str) -> String {
        ConnectOptions::from_url(url).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let o = parse("redis://localhost");
        assert_eq!(o, ConnectOptions::default());
        assert_eq!(parse("redis://h/").db, 0);
        assert_eq!(parse("redis://h:/").port, 6379);
        assert_eq!(o.servername(), None);
    }

    #[test]
    fn every_part() {
        let o = parse("rediss://alice:s%3Ac%40r%2Fet%23@cache.example:6380/3?protocol=3&name=api&connectTimeout=2500");
        assert_eq!(
            o,
            ConnectOptions {
                host: "cache.example".into(),
                port: 6380,
                tls: true,
                username: Some("alice".into()),
                password: Some("s:c@r/et#".into()),
                db: 3,
                protocol: 3,
                client_name: Some("api".into()),
                connect_timeout_ms: Some(2500),
            }
        );
        assert_eq!(o.servername(), Some("cache.example"));
    }

    #[test]
    fn password_alone_and_at_signs() {
        let o = parse("redis://:p@ss@h");
        assert_eq!(o.username, None);
        assert_eq!(o.password.as_deref(), Some("p@ss"));
        assert_eq!(o.host, "h");
        let o = parse("redis://default:@h?db=2");
        assert_eq!(o.username.as_deref(), Some("default"));
        assert_eq!(o.password.as_deref(), Some(""));
        assert_eq!(o.db, 2);
        assert_eq!(parse("REDIS://h").host, "h");
    }

    #[test]
    fn ipv6_hosts() {
        let o = parse("rediss://[::1]:7000/1");
        assert_eq!((o.host.as_str(), o.port, o.db), ("::1", 7000, 1));
        assert_eq!(o.servername(), None);
        assert_eq!(parse("redis://[fe80::1]").port, 6379);
        assert_eq!(parse("rediss://127.0.0.1").servername(), None);
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, words) in [
            ("localhost:6379", "no scheme"),
            ("http://h", "unsupported scheme"),
            ("redis://", "no host"),
            ("redis://:6379", "no host"),
            ("redis://h:0", "invalid port"),
            ("redis://h:65536", "invalid port"),
            ("redis://h:+1", "invalid port"),
            ("redis://h:x", "invalid port"),
            ("redis://h/x", "invalid database"),
            ("redis://h/-1", "invalid database"),
            ("redis://h/1?db=2", "both in the path"),
            ("redis://h?protocol=4", "protocol"),
            ("redis://h?tls=true", "unknown option \"tls\""),
            ("redis://h?connectTimeout=1s", "connectTimeout"),
            ("redis://h?name=a%20b", "no spaces"),
            ("redis://user@h", "without a password"),
            ("redis://:pa#ss@h", "%23"),
            ("redis://:p%zz@h", "two hex digits"),
            ("redis://:p%ff@h", "not UTF-8"),
            ("redis://[::1", "closing"),
            ("redis://[::1]x", "after the IPv6 host"),
            ("redis://[zz]", "invalid IPv6"),
            ("redis://a:b:c", "invalid"),
            ("redis://h h", "invalid host"),
        ] {
            let text = error(url);
            assert!(text.contains(words), "{url}: {text}");
        }
    }

    #[test]
    fn errors_never_show_the_password() {
        let text = error("redis://bob:hunter2@h/zz");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("bob:***@h/zz"), "{text}");
    }
}
