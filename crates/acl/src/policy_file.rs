//! The on-disk shape of `policy.toml`, exactly as an operator writes it.
//! Unknown keys are errors: a misspelt `admin_overides = false` must not be
//! silently ignored in a security policy.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyFile {
    #[serde(default)]
    pub role: Vec<Spanned<RoleRaw>>,
    #[serde(default)]
    pub group: Vec<Spanned<GroupRaw>>,
    #[serde(default)]
    pub account: Vec<Spanned<AccountRaw>>,
    #[serde(default)]
    pub acl: Vec<Spanned<AclRaw>>,
    #[serde(default)]
    pub access_policy: Vec<Spanned<AccessPolicyRaw>>,
    #[serde(default)]
    pub rate_limit: Vec<Spanned<RateLimitRaw>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRaw {
    pub name: String,
    #[serde(default)]
    pub contains: Vec<String>,
    /// For people reading the policy; not used.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupRaw {
    pub name: String,
    pub sys_id: String,
    pub parent: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountRaw {
    pub user_name: String,
    pub sys_id: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub locked_out: bool,
    /// Absent means interactive: such an account is refused by the SQL API.
    #[serde(default)]
    pub web_service_access_only: bool,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub scram: Option<String>,
    pub cert_subject: Option<String>,
    pub token_subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AclRaw {
    pub operation: String,
    pub name: String,
    #[serde(default = "allow_if")]
    pub decision: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub condition: String,
    #[serde(default)]
    pub script: String,
    #[serde(default)]
    pub applies_to: String,
    #[serde(default = "yes")]
    pub admin_overrides: bool,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessPolicyRaw {
    pub name: String,
    pub action: String,
    #[serde(default)]
    pub cidrs: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitRaw {
    pub applies_to: String,
    pub role: Option<String>,
    pub user: Option<String>,
    pub queries_per_hour: u64,
}

fn yes() -> bool {
    true
}

fn allow_if() -> String {
    "allow_if".to_owned()
}
