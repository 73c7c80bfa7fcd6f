//! Access policies: who may connect from where, and how many queries an
//! account may run per hour.
//!
//! A rule matches an address when it lists no CIDR or one contains it, and
//! a principal when it lists no role (or one the principal holds) and no
//! group (or one the principal belongs to). Nothing allowed means blocked.
//! The address alone is checked before any credential work — blocked when
//! a deny rule without role or group matches it, or when no allow rule
//! could match it — and the full check runs right after authentication.

use std::net::IpAddr;

use crate::policy::{AccessPolicy, Policy, PolicyAction, RateScope};
use crate::principal::Principal;
use crate::validate::parse_cidr;

/// Treats `::ffff:a.b.c.d` as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, len)) = parse_cidr(cidr) else {
        return false;
    };
    match (canonical(net), canonical(ip)) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl AccessPolicy {
    fn matches_address(&self, ip: IpAddr) -> bool {
        self.cidrs.is_empty() || self.cidrs.iter().any(|c| contains(c, ip))
    }

    fn matches_principal(&self, p: &Principal) -> bool {
        (self.roles.is_empty() || self.roles.iter().any(|r| p.has_role(r)))
            && (self.groups.is_empty()
                || self
                    .groups
                    .iter()
                    .any(|g| p.groups.iter().any(|pg| &pg.name == g)))
    }

    fn is_unconditional(&self) -> bool {
        self.roles.is_empty() && self.groups.is_empty()
    }
}

impl Policy {
    /// The check made before any credential work. `Err` names why.
    pub fn address_admitted(&self, ip: IpAddr) -> Result<(), String> {
        if let Some(p) = self.access_policies.iter().find(|p| {
            p.action == PolicyAction::Deny && p.is_unconditional() && p.matches_address(ip)
        }) {
            return Err(format!("access policy \"{}\" denies {ip}", p.name));
        }
        if self
            .access_policies
            .iter()
            .any(|p| p.action == PolicyAction::Allow && p.matches_address(ip))
        {
            Ok(())
        } else {
            Err(format!("no access policy allows {ip}"))
        }
    }

    /// The full check, right after authentication.
    pub fn access_admitted(&self, ip: IpAddr, principal: &Principal) -> Result<(), String> {
        let matching = |action| {
            self.access_policies.iter().filter(move |p| {
                p.action == action && p.matches_address(ip) && p.matches_principal(principal)
            })
        };
        if let Some(p) = matching(PolicyAction::Deny).next() {
            return Err(format!(
                "access policy \"{}\" denies {} from {ip}",
                p.name, principal.user_name
            ));
        }
        if matching(PolicyAction::Allow).next().is_some() {
            Ok(())
        } else {
            Err(format!(
                "no access policy allows {} from {ip}",
                principal.user_name
            ))
        }
    }

    /// Queries per hour allowed to the principal: a rule for the account
    /// wins, then the lowest of its roles' rules, then a rule for all;
    /// `None` when no rule applies.
    pub fn query_rate(&self, principal: &Principal) -> Option<u64> {
        let lowest = |pred: &dyn Fn(&RateScope) -> bool| {
            self.rate_limits
                .iter()
                .filter(|r| pred(&r.scope))
                .map(|r| r.queries_per_hour)
                .min()
        };
        lowest(&|s| matches!(s, RateScope::User(u) if *u == principal.user_name))
            .or_else(|| lowest(&|s| matches!(s, RateScope::Role(r) if principal.has_role(r))))
            .or_else(|| lowest(&|s| matches!(s, RateScope::All)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::Tables;

    fn policy(extra: &str) -> Policy {
        let text = format!(
            "[[role]]\nname = \"bi\"\n[[group]]\nname = \"desk\"\nsys_id = \"{}\"\n\
             [[account]]\nuser_name = \"a\"\nsys_id = \"{}\"\nroles = [\"bi\"]\ngroups = [\"desk\"]\n\
             [[account]]\nuser_name = \"b\"\nsys_id = \"{}\"\n{extra}",
            "1".repeat(32),
            "a".repeat(32),
            "b".repeat(32)
        );
        Policy::from_toml(&text, &Tables::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_allowed_means_blocked() {
        let p = policy("");
        assert!(p.address_admitted(ip("127.0.0.1")).is_err());
    }

    #[test]
    fn cidrs_match_v4_v6_and_mapped_addresses() {
        let p = policy(
            "[[access_policy]]\nname = \"lan\"\naction = \"allow\"\ncidrs = [\"10.1.0.0/16\", \"fd00::/8\"]\n",
        );
        assert!(p.address_admitted(ip("10.1.200.3")).is_ok());
        assert!(p.address_admitted(ip("::ffff:10.1.0.9")).is_ok());
        assert!(p.address_admitted(ip("fd12::1")).is_ok());
        assert!(p.address_admitted(ip("10.2.0.1")).is_err());
        assert!(p.address_admitted(ip("fe80::1")).is_err());
    }

    #[test]
    fn deny_wins_and_roles_and_groups_narrow_rules() {
        let p = policy(
            "[[access_policy]]\nname = \"all\"\naction = \"allow\"\ncidrs = [\"0.0.0.0/0\"]\n\
             [[access_policy]]\nname = \"no bi from dmz\"\naction = \"deny\"\ncidrs = [\"192.168.9.0/24\"]\nroles = [\"bi\"]\n\
             [[access_policy]]\nname = \"blocked host\"\naction = \"deny\"\ncidrs = [\"10.0.0.66/32\"]\n",
        );
        let a = p.principal("a").unwrap();
        let b = p.principal("b").unwrap();
        assert!(
            p.address_admitted(ip("10.0.0.66")).is_err(),
            "unconditional deny before credentials"
        );
        assert!(
            p.address_admitted(ip("192.168.9.4")).is_ok(),
            "a role rule waits for the account"
        );
        assert!(p.access_admitted(ip("192.168.9.4"), &a).is_err());
        assert!(p.access_admitted(ip("192.168.9.4"), &b).is_ok());
        let only_desk = policy(
            "[[access_policy]]\nname = \"desk\"\naction = \"allow\"\ncidrs = [\"127.0.0.0/8\"]\ngroups = [\"desk\"]\n",
        );
        assert!(
            only_desk
                .access_admitted(ip("127.0.0.1"), &only_desk.principal("a").unwrap())
                .is_ok()
        );
        assert!(
            only_desk
                .access_admitted(ip("127.0.0.1"), &only_desk.principal("b").unwrap())
                .is_err()
        );
    }

    #[test]
    fn the_most_specific_rate_rule_wins_and_the_lowest_role_rule() {
        let p = policy(
            "[[role]]\nname = \"other\"\n\
             [[rate_limit]]\napplies_to = \"all\"\nqueries_per_hour = 1000\n\
             [[rate_limit]]\napplies_to = \"role\"\nrole = \"bi\"\nqueries_per_hour = 300\n\
             [[rate_limit]]\napplies_to = \"role\"\nrole = \"bi\"\nqueries_per_hour = 200\n\
             [[rate_limit]]\napplies_to = \"user\"\nuser = \"b\"\nqueries_per_hour = 5000\n",
        );
        assert_eq!(p.query_rate(&p.principal("a").unwrap()), Some(200));
        assert_eq!(p.query_rate(&p.principal("b").unwrap()), Some(5000));
        assert_eq!(
            policy("").query_rate(&policy("").principal("a").unwrap()),
            None
        );
    }
}
