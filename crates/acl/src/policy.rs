//! A validated policy: roles, groups, accounts, ACL records, access policies
//! and rate limits. Loading checks everything against the stored tables and
//! reports every problem with its line, so an operator fixes a file in one
//! pass; a policy with any error is refused as a whole (fail closed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::model::{AclName, Decision, FieldPattern, Operation, TablePattern, roles};
use crate::policy_file::{AccountRaw, AclRaw, PolicyFile};
use crate::tables::Tables;
use crate::validate;

/// One problem found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line of the entry (or of the syntax error) in the file.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every problem found in a policy file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Collects problems while a policy loads.
#[derive(Default)]
pub(crate) struct Errors(Vec<PolicyError>);

impl Errors {
    pub(crate) fn push(&mut self, line: usize, message: String) {
        self.0.push(PolicyError {
            line: Some(line),
            message,
        });
    }

    /// Reports each role of `list` that the policy does not define.
    fn roles(&mut self, line: usize, what: &str, list: &[String], known: &dyn Fn(&str) -> bool) {
        for r in list {
            if !known(r) {
                self.push(line, format!("{what}: unknown role {r:?}"));
            }
        }
    }
}

/// A group of accounts; a child group inherits its parent's roles.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub sys_id: String,
    pub parent: Option<String>,
    pub roles: Vec<String>,
}

/// A service account (or an interactive one, which the API refuses).
#[derive(Clone)]
pub struct Account {
    pub user_name: String,
    pub sys_id: String,
    pub active: bool,
    pub locked_out: bool,
    pub web_service_access_only: bool,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    /// PostgreSQL-format SCRAM-SHA-256 verifier; never a password.
    pub scram: Option<String>,
    /// A name a verified client certificate must carry (subject CN, DNS or
    /// email SAN) to log in as this account without a password.
    pub cert_subject: Option<String>,
    /// The `sub` claim a bearer token must carry to log in as this account.
    pub token_subject: Option<String>,
}

impl fmt::Debug for Account {
    // The verifier is not a password, but it is still a credential: keep it
    // out of every debug print and log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("user_name", &self.user_name)
            .field("sys_id", &self.sys_id)
            .field("active", &self.active)
            .field("locked_out", &self.locked_out)
            .field("web_service_access_only", &self.web_service_access_only)
            .field("roles", &self.roles)
            .field("groups", &self.groups)
            .field("scram", &self.scram.as_ref().map(|_| "<redacted>"))
            .field("cert_subject", &self.cert_subject)
            .field("token_subject", &self.token_subject)
            .finish()
    }
}

/// One active ACL record.
#[derive(Debug, Clone)]
pub struct Acl {
    /// Position in the file's `[[acl]]` list (1-based), to name it in
    /// explanations.
    pub number: usize,
    pub line: usize,
    pub operation: Operation,
    pub name: AclName,
    pub decision: Decision,
    pub roles: Vec<String>,
    pub condition: String,
    pub script: String,
    pub applies_to: String,
    pub admin_overrides: bool,
    pub description: String,
}

impl Acl {
    /// An ACL with no roles, no condition and no script denies.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.condition.is_empty() && self.script.is_empty()
    }

    /// Whether the ACL has a per-record part (condition or script).
    pub fn has_record_part(&self) -> bool {
        !self.condition.is_empty() || !self.script.is_empty()
    }

    /// Short label for explanations: `acl #3 (read incident, allow_if)`.
    pub fn label(&self) -> String {
        format!(
            "acl #{} ({} {}, {})",
            self.number, self.operation, self.name, self.decision
        )
    }
}

/// `allow` or `deny` for an access policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyAction {
    Allow,
    Deny,
}

/// A network/role/group access policy.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    pub name: String,
    pub action: PolicyAction,
    pub cidrs: Vec<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
}

/// Whom a rate limit counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateScope {
    User(String),
    Role(String),
    All,
}

/// Queries per hour for a scope.
#[derive(Debug, Clone)]
pub struct RateLimit {
    pub scope: RateScope,
    pub queries_per_hour: u64,
}

/// A validated policy. Cheap to share behind an `Arc`; replaced whole on
/// reload.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub(crate) role_contains: BTreeMap<String, Vec<String>>,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) accounts: BTreeMap<String, Account>,
    pub(crate) acls: Vec<Acl>,
    pub(crate) by_name: HashMap<(Operation, AclName), Vec<usize>>,
    pub access_policies: Vec<AccessPolicy>,
    pub rate_limits: Vec<RateLimit>,
}

impl Policy {
    /// Parses and validates a policy file against the stored tables.
    pub fn from_toml(text: &str, tables: &Tables) -> Result<Policy, PolicyErrors> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            PolicyErrors(vec![PolicyError {
                line: e.span().map(|s| line_of(s.start)),
                message: e.message().to_owned(),
            }])
        })?;
        let mut errs = Errors::default();

        // Roles first: everything else refers to them.
        let mut role_contains: BTreeMap<String, Vec<String>> = roles::BUILT_IN
            .iter()
            .map(|r| (r.to_string(), Vec::new()))
            .collect();
        for r in &file.role {
            let line = line_of(r.span().start);
            if roles::BUILT_IN.contains(&r.get_ref().name.as_str()) {
                errs.push(line, format!("role {:?} is built in", r.get_ref().name));
            } else if role_contains
                .insert(r.get_ref().name.clone(), r.get_ref().contains.clone())
                .is_some()
            {
                errs.push(line, format!("role {:?} defined twice", r.get_ref().name));
            }
        }
        let known_role = |r: &str| role_contains.contains_key(r);
        for r in &file.role {
            errs.roles(
                line_of(r.span().start),
                &format!("role {:?}", r.get_ref().name),
                &r.get_ref().contains,
                &known_role,
            );
        }

        let mut groups = BTreeMap::new();
        for g in &file.group {
            let line = line_of(g.span().start);
            let g = g.get_ref();
            errs.roles(line, &format!("group {:?}", g.name), &g.roles, &known_role);
            let group = Group {
                name: g.name.clone(),
                sys_id: g.sys_id.clone(),
                parent: g.parent.clone(),
                roles: g.roles.clone(),
            };
            if groups.insert(g.name.clone(), (line, group)).is_some() {
                errs.push(line, format!("group {:?} defined twice", g.name));
            }
        }
        for (line, g) in groups.values() {
            if !validate::is_sys_id(&g.sys_id) {
                errs.push(
                    *line,
                    format!(
                        "group {:?}: sys_id must be 32 lowercase hex characters",
                        g.name
                    ),
                );
            }
            if let Some(p) = &g.parent
                && !groups.contains_key(p)
            {
                errs.push(
                    *line,
                    format!("group {:?}: unknown parent group {p:?}", g.name),
                );
            }
        }
        let groups: BTreeMap<String, Group> =
            groups.into_iter().map(|(k, (_, g))| (k, g)).collect();

        let mut accounts = BTreeMap::new();
        // A certificate name or token subject that unlocks two accounts is
        // almost surely a copy-paste slip: refused, like any ambiguity.
        let mut cert_subjects: BTreeMap<&str, &str> = BTreeMap::new();
        let mut token_subjects: BTreeMap<&str, &str> = BTreeMap::new();
        for a in &file.account {
            let line = line_of(a.span().start);
            let raw: &AccountRaw = a.get_ref();
            for (field, value, seen) in [
                ("cert_subject", &raw.cert_subject, &mut cert_subjects),
                ("token_subject", &raw.token_subject, &mut token_subjects),
            ] {
                let Some(value) = value else { continue };
                if value.is_empty() {
                    errs.push(
                        line,
                        format!("account {:?}: {field} is empty", raw.user_name),
                    );
                } else if let Some(other) = seen.insert(value, &raw.user_name) {
                    errs.push(
                        line,
                        format!(
                            "account {:?}: {field} {value:?} is already the {field} of account {other:?}",
                            raw.user_name
                        ),
                    );
                }
            }
            errs.roles(
                line,
                &format!("account {:?}", raw.user_name),
                &raw.roles,
                &known_role,
            );
            for g in &raw.groups {
                if !groups.contains_key(g) {
                    errs.push(
                        line,
                        format!("account {:?}: unknown group {g:?}", raw.user_name),
                    );
                }
            }
            if !validate::is_sys_id(&raw.sys_id) {
                errs.push(
                    line,
                    format!(
                        "account {:?}: sys_id must be 32 lowercase hex characters",
                        raw.user_name
                    ),
                );
            }
            if let Some(v) = &raw.scram
                && let Err(e) = validate::scram_verifier(v)
            {
                errs.push(line, format!("account {:?}: scram: {e}", raw.user_name));
            }
            let account = Account {
                user_name: raw.user_name.clone(),
                sys_id: raw.sys_id.clone(),
                active: raw.active,
                locked_out: raw.locked_out,
                web_service_access_only: raw.web_service_access_only,
                roles: raw.roles.clone(),
                groups: raw.groups.clone(),
                scram: raw.scram.clone(),
                cert_subject: raw.cert_subject.clone(),
                token_subject: raw.token_subject.clone(),
            };
            if accounts.insert(raw.user_name.clone(), account).is_some() {
                errs.push(line, format!("account {:?} defined twice", raw.user_name));
            }
        }

        let mut acls = Vec::new();
        for (i, a) in file.acl.iter().enumerate() {
            let line = line_of(a.span().start);
            let raw: &AclRaw = a.get_ref();
            if !raw.active {
                continue; // inactive ACLs do not exist
            }
            let label = format!("acl #{} ({} {})", i + 1, raw.operation, raw.name);
            errs.roles(line, &label, &raw.roles, &known_role);
            match validate::acl(i + 1, line, raw, tables) {
                Ok(acl) => acls.push(acl),
                Err(messages) => {
                    for m in messages {
                        errs.push(line, format!("{label}: {m}"));
                    }
                }
            }
        }

        let access_policies =
            validate::access_policies(&file, &line_of, &known_role, &groups, &mut errs);
        let rate_limits = validate::rate_limits(&file, &line_of, &known_role, &accounts, &mut errs);

        if !errs.0.is_empty() {
            let mut errors = errs.0;
            errors.sort_by_key(|e| e.line);
            return Err(PolicyErrors(errors));
        }
        let mut by_name: HashMap<(Operation, AclName), Vec<usize>> = HashMap::new();
        for (i, acl) in acls.iter().enumerate() {
            by_name
                .entry((acl.operation, acl.name.clone()))
                .or_default()
                .push(i);
        }
        Ok(Policy {
            role_contains,
            groups,
            accounts,
            acls,
            by_name,
            access_policies,
            rate_limits,
        })
    }

    /// The account named `user_name`, if the policy has one.
    pub fn account(&self, user_name: &str) -> Option<&Account> {
        self.accounts.get(user_name)
    }

    /// Every account, by name.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// Every group, by name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Every active ACL, in file order.
    pub fn acls(&self) -> &[Acl] {
        &self.acls
    }

    /// The active ACLs for exactly this operation and name.
    pub fn acls_named(&self, op: Operation, name: &AclName) -> impl Iterator<Item = &Acl> {
        self.by_name
            .get(&(op, name.clone()))
            .into_iter()
            .flatten()
            .map(|&i| &self.acls[i])
    }

    /// Roles reachable from `start` through `contains`, including itself.
    pub(crate) fn role_closure<'a>(
        &'a self,
        start: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = start.into_iter().collect();
        while let Some(r) = todo.pop() {
            if seen.insert(r.to_owned())
                && let Some(contained) = self.role_contains.get(r)
            {
                todo.extend(contained.iter().map(String::as_str));
            }
        }
        seen
    }

    /// A table-level ACL name for `table`.
    pub fn table_name(table: &str) -> AclName {
        AclName {
            table: TablePattern::Table(table.to_owned()),
            field: None,
        }
    }

    /// A field-level ACL name.
    pub fn field_name(table: TablePattern, field: FieldPattern) -> AclName {
        AclName {
            table,
            field: Some(field),
        }
    }
}
