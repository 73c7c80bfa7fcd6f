//! Who is asking: an account resolved against the policy into its effective
//! roles (own + groups' + inherited from parent groups, closed under
//! `contains`) and its groups, plus the rule for who may connect at all.

use std::collections::BTreeSet;
use std::fmt;

use crate::model::roles;
use crate::policy::{Account, Policy};

/// A group the principal is a direct member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub name: String,
    pub sys_id: String,
}

/// An authenticated account with everything evaluation needs.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_name: String,
    pub sys_id: String,
    /// Effective roles, closed under `contains`.
    pub roles: BTreeSet<String>,
    /// Direct memberships only: members of a child group are not members of
    /// its parent (they inherit its roles, not its membership).
    pub groups: Vec<GroupRef>,
}

impl Principal {
    /// `admin` implies every role except `nobody`, which no one holds.
    pub fn has_role(&self, role: &str) -> bool {
        role != roles::NOBODY && (self.is_admin() || self.roles.contains(role))
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(roles::ADMIN)
    }

    /// Row and field checks are off; the table gate stays. (sqlgate) The
    /// role must be held itself — directly, through `contains` or a group —
    /// not merely implied by `admin`, so an admin account keeps its ACL
    /// conditions where `admin_overrides = false` says so.
    pub fn privileged(&self) -> bool {
        self.roles.contains(roles::PRIVILEGED_MODE)
    }

    /// The sys_ids of the principal's groups.
    pub fn group_sys_ids(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.sys_id.clone()).collect()
    }
}

/// Why an authenticated account may still not use the SQL API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectRefusal {
    Inactive,
    LockedOut,
    /// Not marked `web_service_access_only`: an interactive account.
    Interactive,
    /// Holds neither `sn_odbc_rest_access` nor `sn_jdbc_rest_access`.
    NoSqlApiRole,
}

impl fmt::Display for ConnectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectRefusal::Inactive => "account is inactive",
            ConnectRefusal::LockedOut => "account is locked out",
            ConnectRefusal::Interactive => {
                "account is interactive; the SQL API admits web-service-only accounts"
            }
            ConnectRefusal::NoSqlApiRole => {
                "account holds neither sn_odbc_rest_access nor sn_jdbc_rest_access"
            }
        })
    }
}

impl Policy {
    /// Resolves an account into a principal.
    pub fn principal(&self, user_name: &str) -> Option<Principal> {
        let account = self.account(user_name)?;
        let mut direct: Vec<&str> = account.roles.iter().map(String::as_str).collect();
        let mut groups = Vec::new();
        for name in &account.groups {
            let Some(group) = self.group(name) else {
                continue;
            };
            groups.push(GroupRef {
                name: group.name.clone(),
                sys_id: group.sys_id.clone(),
            });
            // A child group inherits its ancestors' roles; the walk is
            // bounded so a parent cycle cannot loop.
            let mut cur = Some(group);
            for _ in 0..=self.groups.len() {
                let Some(g) = cur else { break };
                direct.extend(g.roles.iter().map(String::as_str));
                cur = g.parent.as_deref().and_then(|p| self.group(p));
            }
        }
        Some(Principal {
            user_name: account.user_name.clone(),
            sys_id: account.sys_id.clone(),
            roles: self.role_closure(direct),
            groups,
        })
    }

    /// Whether an authenticated account may use the SQL API. Checked after
    /// the credential, so the answer reveals nothing to someone without it.
    pub fn connect_check(
        &self,
        account: &Account,
        principal: &Principal,
    ) -> Result<(), ConnectRefusal> {
        if !account.active {
            Err(ConnectRefusal::Inactive)
        } else if account.locked_out {
            Err(ConnectRefusal::LockedOut)
        } else if !account.web_service_access_only {
            Err(ConnectRefusal::Interactive)
        } else if !(principal.has_role(roles::ODBC_REST_ACCESS)
            || principal.has_role(roles::JDBC_REST_ACCESS))
        {
            Err(ConnectRefusal::NoSqlApiRole)
        } else {
            Ok(())
        }
    }
}
