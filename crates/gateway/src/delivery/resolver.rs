//! Name resolution for pushes that refuses non-public addresses.
//!
//! Registration refuses push targets that are literal private IPs or `localhost`, but a
//! host name can resolve to anything, and can change what it resolves to after
//! registration (DNS rebinding). Resolving through this resolver for every connection
//! closes that hole: unless `delivery.push.allow_private_targets` is set, only public
//! addresses are ever connected to.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::directory::validate::is_public_ip;

/// Resolves with the system resolver, dropping non-public addresses unless allowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GuardedResolver {
    /// Keep loopback, private and link-local addresses.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public_ip(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    format!("{host} does not resolve to an allowed (public) address").into(),
                );
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}
