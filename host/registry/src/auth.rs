//! Credentials the way users already have them: `SQRTSPACE_REGISTRY_USER` and
//! `SQRTSPACE_REGISTRY_PASSWORD` (for CI jobs, which hold secrets in the environment), else
//! the Docker config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: what
//! `docker login` writes, including its credential helpers), else anonymous.
//!
//! Credentials are handed to the OCI client and go nowhere else: not into errors, reports or
//! logs. [`Credentials`]' `Debug` says where they came from, never what they are.

use oci_client::secrets::RegistryAuth;

/// Where a registry's credentials came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `SQRTSPACE_REGISTRY_USER` and `SQRTSPACE_REGISTRY_PASSWORD`.
    Environment,
    /// The Docker config or one of its credential helpers.
    DockerConfig,
    /// None: an anonymous pull or push.
    Anonymous,
}

/// Credentials for one registry.
pub struct Credentials {
    auth: RegistryAuth,
    /// Where they came from.
    pub source: Source,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The credentials for `registry` (`host` or `host:port`).
    pub fn for_registry(registry: &str) -> Credentials {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let (Some(user), Some(password)) = (
            env("SQRTSPACE_REGISTRY_USER"),
            env("SQRTSPACE_REGISTRY_PASSWORD"),
        ) {
            return Credentials {
                auth: RegistryAuth::Basic(user, password),
                source: Source::Environment,
            };
        }
        // Docker Hub's entry in the config is its old index address.
        let server = if registry == "docker.io" || registry == "index.docker.io" {
            "https://index.docker.io/v1/"
        } else {
            registry
        };
        match docker_credential::get_credential(server) {
            Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
                Credentials {
                    auth: RegistryAuth::Basic(user, password),
                    source: Source::DockerConfig,
                }
            }
            Ok(docker_credential::DockerCredential::IdentityToken(token)) => Credentials {
                auth: RegistryAuth::Bearer(token),
                source: Source::DockerConfig,
            },
            Err(_) => Credentials {
                auth: RegistryAuth::Anonymous,
                source: Source::Anonymous,
            },
        }
    }

    /// For the OCI client.
    pub(crate) fn auth(&self) -> &RegistryAuth {
        &self.auth
    }
}
