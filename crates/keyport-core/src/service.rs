//! Service accounts: the Client Credentials grant (RFC 6749 §4.4).
//!
//! There is no person and no refresh token: the client secret (kept in the keyring under the
//! account) mints an access token on demand, and mints a new one when it expires
//! (`Keyport::fresh_access_token` → `refresh.rs`).

use oauth2::Scope;

use crate::Keyport;
use crate::account::{Account, AccountKind, Health, Identity, check_account_name};
use crate::error::Error;
use crate::events::AccountEvent;
use crate::keyport::blocking;
use crate::oauth::expires_at;
use crate::oauth::{self, Exchange, Tokens};
use crate::secret::Secret;
use crate::secrets::SecretKey;
use crate::store::FileLock;

/// A service account to add.
#[derive(Debug)]
pub struct ServiceAccountRequest {
    /// The account's name (required: there is no identity to name it after).
    pub name: String,
    /// Scopes to request; the provider's defaults when empty.
    pub scopes: Vec<String>,
    /// The client id, when it is not the provider's.
    pub client_id: Option<String>,
    /// The client secret; stored in the keyring under the account.
    pub client_secret: Secret,
}

impl Keyport {
    /// Mints a first token with the client credentials and stores the account: secret and
    /// token in the keyring first, then the record (`kind: "service"`).
    pub async fn add_service_account(&self, provider: &str, request: ServiceAccountRequest) -> Result<Account, Error> {
        check_account_name(&request.name)?;
        // A first look, to fail before asking the provider; the check that counts is under
        // the lock (`store_service_account`).
        let (keyport, owned) = (self.clone(), provider.to_owned());
        let (existing, mut provider) =
            blocking(move || Ok::<_, Error>((keyport.accounts()?, keyport.providers.get(&owned)?))).await?;
        if existing.iter().any(|a| a.name == request.name) {
            return Err(Error::AccountExists { name: request.name, signed_in_as: None });
        }
        let client_id = request.client_id.clone().unwrap_or_else(|| provider.client_id.clone());
        provider.client_id = client_id.clone();
        let scopes = if request.scopes.is_empty() { provider.default_scopes.clone() } else { request.scopes.clone() };
        // Identity scopes make no sense without a person.
        let scopes: Vec<String> = scopes
            .into_iter()
            .filter(|s| !matches!(s.as_str(), "openid" | "profile" | "email" | "offline_access"))
            .collect();
        let exchange = Exchange::new(self.http.as_ref());
        let response = oauth::client(&provider, Some(&request.client_secret))?
            .exchange_client_credentials()
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .request_async(&exchange)
            .await
            .map_err(|err| oauth::token_error(err, exchange.last()))?;
        let tokens = Tokens::from_response(response, &provider.quirks)?;

        let keyport = self.clone();
        let account =
            blocking(move || keyport.store_service_account(provider, client_id, request, tokens, scopes)).await?;
        self.events.publish(AccountEvent::Added { account: account.name.clone() });
        Ok(account)
    }

    /// Writes a new service account: its secret and token to the keyring, then its record,
    /// all under the account's renewal lock, with the name checked again there (checked only
    /// before, as this once was, a sign-in finishing meanwhile under the same name had its
    /// access token replaced by this account's: `a_name_is_checked_under_the_lock...`).
    fn store_service_account(
        &self,
        provider: crate::provider::Provider,
        client_id: String,
        request: ServiceAccountRequest,
        tokens: Tokens,
        scopes: Vec<String>,
    ) -> Result<Account, Error> {
        let namespace = self.accounts.namespace()?;
        let name = request.name;
        let _lock = FileLock::acquire_within(&self.accounts.renewal_lock_path(&name), self.accounts.lock_wait)?;
        if self.accounts.read()?.accounts.iter().any(|a| a.name == name) {
            return Err(Error::AccountExists { name, signed_in_as: None });
        }
        self.secrets.set(&SecretKey::account_client_secret(&namespace, &name), &request.client_secret)?;
        self.secrets.set(&SecretKey::access_token(&namespace, &name), &tokens.access_token)?;
        let now = self.clock.now();
        let record = Account {
            name: name.clone(),
            provider: provider.name.clone(),
            kind: AccountKind::Service,
            identity: Identity { sub: Some(client_id.clone()), email: None, name: None },
            scopes: tokens.scope.clone().unwrap_or_else(|| scopes.clone()),
            requested_scopes: scopes,
            expires_at: tokens.expires_in.map(|lifetime| expires_at(now, lifetime)),
            token_issued_at: now,
            token_type: tokens.token_type.clone(),
            has_refresh_token: false,
            health: Health::Ok,
            client_id: request.client_id,
            last_refreshed_at: None,
            created_at: now,
            updated_at: now,
            refresh_expires_at: None,
            refresh_unused_expires_at: None,
        };
        self.accounts.update(|data| {
            if data.accounts.iter().any(|a| a.name == name) {
                return Err(Error::AccountExists { name: name.clone(), signed_in_as: None });
            }
            data.accounts.push(record.clone());
            data.accounts.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(record)
        })
    }
}
