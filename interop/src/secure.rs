//! Client authentication and TLS for `broker`: parsing `--user`, building rivven-core's real
//! `AuthManager` / `TlsConfig`, and starting rivvend's `SecureServer` when principals are needed.
//!
//! Why two server code paths (rivvend 0.0.22, read from cluster_server.rs / secure_server.rs):
//! * `ClusterServer` (what the rivvend binary runs) does enforce auth and TLS on the client port,
//!   but its `AuthManager` is private and created with `AuthConfig::default()` and no principals,
//!   and nothing (CLI, protocol, API) can add one: with auth on, nobody can ever log in, and the
//!   session lifetime is fixed at 1 h. Its TLS (`--tls-enabled` …) is used as is for `--tls-*`
//!   without `--user`.
//! * `SecureServer::with_auth_manager` is rivvend's own entry point for an injected, pre-populated
//!   `AuthManager` ("useful for testing RBAC"): used whenever `--user` is given, with the same
//!   `AuthenticatedHandler` (SCRAM, PLAIN, RBAC) and the same rivven-core `TlsAcceptor`.

use anyhow::{anyhow, bail, Context, Result};
use rivven_core::tls::{MtlsMode, TlsConfig};
use rivven_core::{AuthConfig, AuthManager, PrincipalType};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The roles rivven-core 0.0.22 creates in every `AuthManager` (`init_builtin_roles`).
pub const BUILTIN_ROLES: [&str; 4] = ["admin", "producer", "consumer", "read-only"];

/// Shown by `broker --help`.
pub const BROKER_AFTER_HELP: &str = "\
AUTHENTICATION (--user):
  With at least one --user the broker runs rivvend's SecureServer with client authentication
  REQUIRED: only Ping and the auth requests (ScramClientFirst/Final, Authenticate, SaslAuthenticate)
  are served before a successful login; anything else gets
  'AUTHENTICATION_REQUIRED: Please authenticate first' (Handshake included). Principals are created
  in rivven-core's AuthManager with real PBKDF2-SHA256 hashes (600 000 iterations, as rivvend does):
  SCRAM-SHA-256 and PLAIN both work. rivven-core enforces its password policy: at least 8
  characters with an upper-case letter, a lower-case letter, a digit and a special character
  (e.g. Alice-pw1). A password cannot contain ':'. Roles are joined with '+'; no roles = a
  principal that can log in but is denied everything. Only PLAIN failures count towards the
  lockout (--max-failed-attempts per user, twice that per client IP); SCRAM failures never do.

ROLES (rivven-core 0.0.22 built-ins; requests map to permissions in rivvend's auth_handler.rs):
  admin      (Cluster, All): every request.
  producer   Write + Describe on every topic, IdempotentWrite on the cluster: Publish(Batch),
             IdempotentPublish(Batch), InitProducerId, transactions, TransactionalPublish,
             GetMetadata, GetOffsetBounds, GetOffsetForTimestamp.
  consumer   Read + Describe on every topic, GroupRead on every group: Consume, GetMetadata,
             GetOffsetBounds, GetOffsetForTimestamp. (GroupRead is required by no request, so
             CommitOffset/GetOffset/JoinGroup/... are denied, as for read-only.)
  read-only  Read + Describe on every topic: the same requests as consumer.
  Only admin may CreateTopic, DeleteTopic, ListTopics, GetClusterMetadata, ListGroups,
  DescribeTopicConfigs, AlterTopicConfig, CreatePartitions, DeleteRecords, quotas and any
  consumer-group request. A denied request gets 'AUTHORIZATION_FAILED: Permission denied: ...'.

TLS (--tls-cert/--tls-key):
  rivven-core's TlsAcceptor (rustls, TLS 1.3 only) terminates TLS on the client port. With --user
  that is SecureServer's acceptor, otherwise ClusterServer's own (--tls-enabled), which then also
  serves its HTTP API over HTTPS with the same certificate. --tls-ca alone requests but does not
  require a client certificate; --require-client-cert makes it mandatory (mTLS). A client
  certificate does not log anybody in: with --user, SCRAM/PLAIN is still required.";

/// One `--user NAME:PASSWORD[:ROLE+ROLE…]`.
#[derive(Clone)]
pub struct UserSpec {
    pub name: String,
    password: String,
    pub roles: Vec<String>,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("name", &self.name)
            .field("password", &"[REDACTED]")
            .field("roles", &self.roles)
            .finish()
    }
}

/// clap value parser for `--user`.
pub fn parse_user(s: &str) -> std::result::Result<UserSpec, String> {
    let mut parts = s.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let password = parts
        .next()
        .ok_or_else(|| "expected NAME:PASSWORD[:ROLE+ROLE…]".to_string())?;
    let roles_part = parts.next().unwrap_or_default();
    if name.is_empty() {
        return Err("empty user name".into());
    }
    if password.is_empty() {
        return Err(format!("empty password for user '{name}'"));
    }
    let roles: Vec<String> = roles_part
        .split('+')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    for role in &roles {
        if !BUILTIN_ROLES.contains(&role.as_str()) {
            return Err(format!(
                "unknown role '{role}' for user '{name}' (known: {})",
                BUILTIN_ROLES.join(", ")
            ));
        }
    }
    Ok(UserSpec {
        name: name.to_string(),
        password: password.to_string(),
        roles,
    })
}

/// AuthManager settings taken from the command line (None = rivven-core's default).
#[derive(Debug, Default, Clone)]
pub struct AuthOptions {
    pub session_timeout_secs: Option<u64>,
    pub max_failed_attempts: Option<u32>,
    pub lockout_secs: Option<u64>,
}

/// rivven-core's `AuthConfig::default()` (auth required, ACLs on, default deny, 1 h sessions,
/// 5 failures → 300 s lockout) with the command-line overrides.
pub fn auth_config(opts: &AuthOptions) -> AuthConfig {
    let mut cfg = AuthConfig::default();
    if let Some(s) = opts.session_timeout_secs {
        cfg.session_timeout = Duration::from_secs(s);
    }
    if let Some(n) = opts.max_failed_attempts {
        cfg.max_failed_attempts = n;
    }
    if let Some(s) = opts.lockout_secs {
        cfg.lockout_duration = Duration::from_secs(s);
    }
    cfg
}

/// A real AuthManager holding `users` (PBKDF2 runs on the blocking pool, in parallel).
pub async fn build_auth_manager(users: &[UserSpec], opts: &AuthOptions) -> Result<Arc<AuthManager>> {
    let mut seen = HashSet::new();
    for u in users {
        if !seen.insert(u.name.as_str()) {
            bail!("--user '{}' given twice", u.name);
        }
    }
    let cfg = auth_config(opts);
    eprintln!(
        "broker: auth required; session timeout {}s, lockout after {} failed PLAIN logins for {}s",
        cfg.session_timeout.as_secs(),
        cfg.max_failed_attempts,
        cfg.lockout_duration.as_secs()
    );
    let am = Arc::new(AuthManager::new(cfg));
    let mut tasks = tokio::task::JoinSet::new();
    for u in users.iter().cloned() {
        let am = am.clone();
        tasks.spawn(async move {
            let roles: HashSet<String> = u.roles.iter().cloned().collect();
            am.create_principal_async(&u.name, &u.password, PrincipalType::User, roles)
                .await
                .map_err(|e| anyhow!("--user '{}': {e}", u.name))
        });
    }
    while let Some(res) = tasks.join_next().await {
        res.context("creating principal")??;
    }
    for u in users {
        let roles = if u.roles.is_empty() {
            "(no roles)".to_string()
        } else {
            u.roles.join("+")
        };
        eprintln!("broker: principal '{}' roles {roles}", u.name);
    }
    Ok(am)
}

/// `--tls-*` as given on the command line.
#[derive(Debug, Default, Clone)]
pub struct TlsOptions {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub require_client_cert: bool,
}

impl TlsOptions {
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }

    /// The mTLS mode exactly as ClusterServer::new derives it from its CLI flags.
    pub fn mtls_mode(&self) -> MtlsMode {
        if self.require_client_cert {
            MtlsMode::Required
        } else if self.ca.is_some() {
            MtlsMode::Optional
        } else {
            MtlsMode::Disabled
        }
    }

    /// rivven-core TlsConfig built the way ClusterServer::new builds it (for SecureServer).
    pub fn to_tls_config(&self) -> Result<Option<TlsConfig>> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(None);
        };
        let mut cfg = match &self.ca {
            Some(ca) => TlsConfig::mtls_from_pem_files(cert, key, ca),
            None => TlsConfig::from_pem_files(cert, key),
        };
        cfg.mtls_mode = self.mtls_mode();
        Ok(Some(cfg))
    }

    /// Fail early and readably on unreadable files (rivvend would report them less clearly).
    pub fn check_files(&self) -> Result<()> {
        for (flag, path) in [
            ("--tls-cert", &self.cert),
            ("--tls-key", &self.key),
            ("--tls-ca", &self.ca),
        ] {
            if let Some(p) = path {
                std::fs::metadata(p).with_context(|| format!("{flag} {}", p.display()))?;
            }
        }
        Ok(())
    }

    /// ClusterServer's own flags for the same configuration.
    pub fn rivvend_flags(&self) -> Vec<(&'static str, Option<String>)> {
        let mut flags = Vec::new();
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            flags.push(("tls-enabled", None));
            flags.push(("tls-cert", Some(cert.display().to_string())));
            flags.push(("tls-key", Some(key.display().to_string())));
            if let Some(ca) = &self.ca {
                flags.push(("tls-ca", Some(ca.display().to_string())));
            }
            if self.require_client_cert {
                flags.push(("tls-verify-client", None));
            }
        }
        flags
    }
}

/// rustls 0.23 needs a process-wide crypto provider when both of its backends are compiled in
/// (they are: aws-lc-rs via rivven-core, ring via reqwest/axum-server); without it rivvend's
/// `TlsAcceptor::new` panics. rivven-core's own TLS tests install aws-lc-rs the same way.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_grammar() {
        let u = parse_user("alice:Alice-pw1:admin").unwrap();
        assert_eq!((u.name.as_str(), u.password.as_str()), ("alice", "Alice-pw1"));
        assert_eq!(u.roles, vec!["admin"]);
        let u = parse_user("bob:Bob-pw-1:producer+consumer").unwrap();
        assert_eq!(u.roles, vec!["producer", "consumer"]);
        assert!(parse_user("carol:Carol-pw1").unwrap().roles.is_empty());
        assert!(parse_user("carol:Carol-pw1:").unwrap().roles.is_empty());
        assert!(parse_user("dave:Dave-pw1:root").is_err());
        assert!(parse_user("dave").is_err());
        assert!(parse_user(":x").is_err());
        assert!(parse_user("dave:").is_err());
        assert!(!format!("{:?}", parse_user("e:Secret-1").unwrap()).contains("Secret"));
    }

    #[test]
    fn mtls_mode_matches_cluster_server() {
        let mut t = TlsOptions {
            cert: Some("c".into()),
            key: Some("k".into()),
            ..Default::default()
        };
        assert_eq!(t.mtls_mode(), MtlsMode::Disabled);
        t.ca = Some("ca".into());
        assert_eq!(t.mtls_mode(), MtlsMode::Optional);
        t.require_client_cert = true;
        assert_eq!(t.mtls_mode(), MtlsMode::Required);
        let cfg = t.to_tls_config().unwrap().unwrap();
        assert!(cfg.enabled && cfg.client_ca.is_some());
    }
}
